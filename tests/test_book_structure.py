"""The book's structure agrees with itself, without executing or building anything: the table of
contents, the introduction's table of chapters and every chapter's "next" link give the same
order; every cross-reference ({doc}, {ref}, {numref}, {term}, {cite}, Markdown links) points to
something that exists; every figure has a caption, a name and alt text; every module's reference
page links to its chapter."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
FIGURE_NAME = re.compile(r"^fig-[a-z0-9-]+$")


def toc_entries() -> tuple[str, list[tuple[str, str]]]:
    """The root docname and [(part caption, docname), ...] in TOC order (sections included)."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    entries: list[tuple[str, str]] = []

    def walk(items, caption):
        for item in items or []:
            if "file" in item:
                entries.append((caption, item["file"]))
            walk(item.get("sections"), caption)

    for part in toc.get("parts", []):
        walk(part.get("chapters"), part.get("caption", ""))
    walk(toc.get("chapters"), "")
    return toc["root"], entries


def chapter_order() -> list[str]:
    """The chapters a reader reads in order: every TOC entry outside the reference part."""
    _, entries = toc_entries()
    return [Path(doc).name for caption, doc in entries if caption.lower() != "reference"]


def all_docs() -> list[str]:
    root, entries = toc_entries()
    return [root] + [doc for _, doc in entries]


def source(docname: str) -> str:
    return (ROOT / f"{docname}.md").read_text()


def prose(text: str) -> str:
    """Markdown outside code cells, code blocks and front matter."""
    text = re.sub(r"\A---\n.*?\n---\n", "", text, flags=re.S)
    return re.sub(r"^(`{3,}).*?^\1\s*$", "", text, flags=re.S | re.M)


def role_targets(text: str, role: str) -> list[str]:
    """Targets of {role}`target` and {role}`text <target>`."""
    out = []
    for body in re.findall(r"\{" + role + r"\}`([^`]+)`", text):
        m = re.search(r"<([^<>]+)>\s*$", body)
        out.append((m.group(1) if m else body).strip())
    return out


def resolve_doc(docname: str, target: str) -> str:
    """A {doc} target as a docname relative to the book root."""
    if target.startswith("/"):
        return target.lstrip("/")
    parts = (Path(docname).parent / target).as_posix().split("/")
    out: list[str] = []
    for p in parts:
        if p == "..":
            out.pop()
        elif p not in ("", "."):
            out.append(p)
    return "/".join(out)


def paragraphs(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n\s*\n", prose(text)) if p.strip()]


def next_links(docname: str) -> list[str]:
    """The chapters that a chapter's closing 'next' sentence links to."""
    last = [p for p in paragraphs(source(docname)) if not p.startswith(("#", "*", ":::", "```"))]
    links = []
    for sentence in re.split(r"(?<=[.!?])\s+", last[-1] if last else ""):
        if re.search(r"\bnext\b", sentence, flags=re.I):
            links += [resolve_doc(docname, t) for t in role_targets(sentence, "doc")]
    return [Path(t).name for t in links]


# ---------------------------------------------------------------------------------------------
# order
# ---------------------------------------------------------------------------------------------
def test_toc_lists_every_page_once_and_the_pipeline_in_reading_order():
    docs = all_docs()
    assert len(docs) == len(set(docs)), "a page is listed twice in _toc.yml"
    for doc in docs:
        assert (ROOT / f"{doc}.md").is_file(), f"_toc.yml lists {doc}, which has no {doc}.md"
    assert chapter_order() == ["neurons", "retina", "coding", "competition", "mozafari2019",
                             "diehl_cook2015", "stdp_failures", "gradient", "events", "conversion",
                             "closing"]
    for page in ["book/notation", "book/glossary", "book/bibliography", "book/api"]:
        assert page in docs, f"{page} missing from the TOC"


def test_intro_table_lists_the_chapters_in_toc_order():
    root, _ = toc_entries()
    rows = [line for line in prose(source(root)).splitlines() if line.startswith("| {doc}")]
    listed = [Path(resolve_doc(root, role_targets(row.split("|")[1], "doc")[0])).name for row in rows]
    assert listed == chapter_order(), f"intro table {listed} != TOC {chapter_order()}"


def test_each_chapter_ends_with_a_link_to_the_next_one():
    root, _ = toc_entries()
    order = chapter_order()
    sequence = [Path(root).name] + order
    for here, following in zip(sequence, sequence[1:]):
        doc = root if here == Path(root).name else f"book/{here}"
        assert next_links(doc) == [following], (
            f"{doc}: closing 'next' link goes to {next_links(doc)}, the TOC says {following}")
    assert next_links(f"book/{order[-1]}") == [], "the last chapter has no next chapter"


def test_openings_only_look_back_at_earlier_chapters():
    """A chapter's opening (before its first section) says what earlier chapters 'built' or
    'turned' the input into; those must really come earlier."""
    order = chapter_order()
    for i, name in enumerate(order):
        opening = prose(source(f"book/{name}")).split("\n## ", 1)[0]
        for sentence in re.split(r"(?<=[.!?])\s+", opening):
            if re.search(r"(?<!are )(?<!is )(?<!be )\b(built|turned|introduced|showed)\b", sentence):
                for target in role_targets(sentence, "doc"):
                    other = Path(resolve_doc(f"book/{name}", target)).name
                    if other in order:
                        assert order.index(other) < i, f"{name}: opening looks back at {other}"


# ---------------------------------------------------------------------------------------------
# references
# ---------------------------------------------------------------------------------------------
def labels() -> set[str]:
    """Every target a {ref} or {numref} can name: (label)= targets, :name: options of
    directives and figure names in code-cell metadata."""
    found: set[str] = set()
    for doc in all_docs():
        text = source(doc)
        found |= set(re.findall(r"^\(([\w-]+)\)=\s*$", text, flags=re.M))
        found |= set(re.findall(r"^:name:\s*(\S+)\s*$", text, flags=re.M))
        found |= set(re.findall(r"^\s+name:\s*(\S+)\s*$", text, flags=re.M))
    return found


def glossary_terms() -> set[str]:
    text = source("book/glossary")
    block = text.split("```{glossary}", 1)[1].split("```", 1)[0]
    return {line.strip() for line in block.splitlines()
            if line.strip() and not line.startswith((" ", ":")) and not line.startswith("\t")}


@pytest.mark.parametrize("doc", all_docs())
def test_every_cross_reference_points_to_something_that_exists(doc):
    text = prose(source(doc))
    built = set(all_docs())
    for target in role_targets(text, "doc"):
        resolved = resolve_doc(doc, target)
        assert resolved in built, f"{doc}: {{doc}}`{target}` -> {resolved}, not a page of the book"
    known = labels()
    for role in ("ref", "numref"):
        for target in role_targets(text, role):
            assert target in known, f"{doc}: {{{role}}}`{target}` has no target"
    terms = {t.lower() for t in glossary_terms()}
    for target in role_targets(text, "term"):
        assert target.lower() in terms, f"{doc}: {{term}}`{target}` is not in the glossary"
    keys = set(re.findall(r"@\w+\{([^,\s]+),", (BOOK / "references.bib").read_text()))
    for role in ("cite:p", "cite:t", "cite"):
        for body in re.findall(r"\{" + role + r"\}`([^`]+)`", text):
            for key in body.split(","):
                assert key.strip() in keys, f"{doc}: citation {key.strip()!r} not in references.bib"
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        path = (ROOT / doc).parent / target.split("#")[0]
        assert path.exists() or path.with_suffix(".md").exists(), f"{doc}: link to missing {target}"


def test_chapters_mention_no_chapter_file_that_does_not_exist():
    """Prose such as 'Chapter: X (book/x.md)' or 'see book/x.md' names real files only."""
    for doc in all_docs():
        for name in re.findall(r"\bbook/([\w-]+)\.md\b", prose(source(doc))):
            assert (BOOK / f"{name}.md").is_file(), f"{doc} mentions book/{name}.md"


def test_module_docstrings_name_existing_chapters():
    """Each module's docstring says 'Chapter: Title (book/name.md)'; the file must exist (it is
    shown on the module's reference page)."""
    for module in sorted((ROOT / "src" / "snnbook").rglob("*.py")):
        head = module.read_text().split('"""', 2)[1] if '"""' in module.read_text() else ""
        for name in re.findall(r"\(book/([\w-]+)\.md\)", head):
            assert (BOOK / f"{name}.md").is_file(), (
                f"{module.relative_to(ROOT)}: docstring names book/{name}.md, which does not exist")


# ---------------------------------------------------------------------------------------------
# figures and reference pages
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("doc", all_docs())
def test_every_captioned_figure_has_a_name_and_alt_text(doc):
    text = source(doc)
    cells = re.findall(r"```\{code-cell\}[^\n]*\n---\n(.*?)\n---\n", text, flags=re.S)
    for meta in cells:
        data = yaml.safe_load(meta) or {}
        figure = (data.get("mystnb") or {}).get("figure")
        if figure is None:
            continue
        assert str(figure.get("caption", "")).strip(), f"{doc}: figure without a caption"
        assert FIGURE_NAME.match(str(figure.get("name", ""))), f"{doc}: figure name {figure.get('name')!r}"
        alt = str(((data.get("mystnb") or {}).get("image") or {}).get("alt", ""))
        assert len(alt.split()) >= 5, f"{doc}: figure {figure.get('name')} has no real alt text"
    for block in re.findall(r"```\{glue:figure\}[^\n]*\n(.*?)```", text, flags=re.S):
        options = dict(re.findall(r"^:(\w+):\s*(.*)$", block, flags=re.M))
        assert FIGURE_NAME.match(options.get("name", "")), f"{doc}: glue:figure without a fig- name"
        assert len(options.get("alt", "").split()) >= 5, f"{doc}: {options.get('name')} has no alt text"
    names = re.findall(r"^\s+name:\s*(fig-\S+)\s*$|^:name:\s*(fig-\S+)\s*$", text, flags=re.M)
    flat = [a or b for a, b in names]
    assert len(flat) == len(set(flat)), f"{doc}: a figure name is used twice"


def test_every_pipeline_chapter_has_numbered_figures():
    for name in chapter_order():
        text = source(f"book/{name}")
        n = len(re.findall(r"^\s+name: fig-|^:name: fig-", text, flags=re.M))
        assert n >= 2, f"{name}: {n} named figures"


API_PAGES = {
    "retina": "retina", "coding": "coding", "neurons": "neurons", "layers": "layers",
    "competition": "competition", "plasticity": "plasticity",
    "models_mozafari2019": "models.mozafari2019", "training": "training", "data": "data",
    "viz": "viz", "widgets": "widgets", "models_diehl_cook2015": "models.diehl_cook2015",
    "monitors": "monitors", "events": "events", "models_events_nets": "models.events_nets",
    "models_kheradpisheh2018": "models.kheradpisheh2018", "models_conversion": "models.conversion",
}


def test_api_reference_has_one_page_per_module_linking_to_a_chapter():
    _, entries = toc_entries()
    docs = [doc for _, doc in entries]
    for stem, module in API_PAGES.items():
        page = f"book/api/{stem}"
        assert page in docs, f"{page} missing from the TOC"
        text = source(page)
        assert f".. automodule:: snnbook.{module}" in text
        assert text.startswith(f"# `snnbook.{module}`"), f"{page}: heading must name the module"
        chapters = [Path(resolve_doc(page, t)).name for t in role_targets(text, "doc")]
        assert set(chapters) & set(chapter_order() + ["intro"]), f"{page} links to no chapter"
    index = source("book/api")
    assert "automodule" not in index, "book/api.md is an index of module pages, not one long page"
    for stem in API_PAGES:
        assert f"<api/{stem}>" in index, f"book/api.md does not link {stem}"


def test_glossary_has_no_authoring_text_and_the_terms_the_issue_names():
    text = source("book/glossary")
    assert "-style references" not in text
    terms = glossary_terms()
    for term in ["IF neuron", "LIF neuron", "refractory period", "DoG", "Gabor filter", "Fano factor",
                 "LTP", "LTD", "stabiliser", "pointwise inhibition", "rank-order code", "R-STDP"]:
        assert term in terms, f"{term} missing from the glossary"
