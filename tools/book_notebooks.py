"""Write the paired ``.ipynb`` of every executable chapter (``python tools/book_notebooks.py book``,
run by ``make notebooks``).

Colab opens notebooks only, so each MyST chapter in ``book/`` with a ``kernelspec`` gets a
notebook without outputs beside it. Cell ids are numbered (jupytext would draw random ones), so
regenerating a notebook changes only the cells whose source changed.

Colab and Jupyter render plain Markdown, not MyST, so the notebook's Markdown cells are
translated (:func:`myst_to_markdown`): glossary terms become their text, citations
"Author et al. (2019a)", admonitions block quotes, ``{literalinclude}`` a code block holding the
included lines, glued values the value's name in code style (a note at the top says which cell
computes them), cross-references plain text and figure directives their numbered caption. Math
(``$...$``, ``$$...$$``) is kept: Colab and Jupyter render it. Code cells are copied unchanged;
cells hidden on the site (``remove-cell``/``remove-input``) are collapsed in Jupyter.
"""
from __future__ import annotations

import ast
import functools
import re
import sys
from pathlib import Path

#: Markdown cell that the paired notebook gets after its title: what differs from the website.
NOTEBOOK_NOTE = (
    "> **Running this notebook** (on Colab or in Jupyter): run the cells from the top. The "
    "first cell installs the book's library `snnbook` where it is missing. Numbers that the "
    "website prints in the text appear here as names in `code style`: the code cells compute "
    "them (print a name in a new cell to see its value). Cross-references name the chapter, "
    "and citations are listed in the book's bibliography.")

HIDDEN_TAGS = ("remove-cell", "remove-input")

_ROLE = re.compile(r"\{(?P<role>[a-z]+(?::[a-z]+)?)\}`(?P<body>[^`]*)`")
_FENCE_OPEN = re.compile(r"^(?P<fence>`{3,}|:{3,})\{(?P<name>[a-z:-]+)\}\s*(?P<arg>.*)$")
_LABEL_LINE = re.compile(r"^\([A-Za-z0-9_.:-]+\)=\s*$")


# --------------------------------------------------------------------------- bibliography
def _latex_to_text(s: str) -> str:
    import latexcodec  # noqa: F401  (registers the "latex" codec; a dependency of pybtex)

    s = s.encode("latex").decode("latex") if "\\" in s else s
    return s.replace("{", "").replace("}", "")


@functools.lru_cache(maxsize=None)
def citation_labels(bib: Path) -> dict[str, tuple[str, str]]:
    """``{key: (authors, year)}`` for every entry of a BibTeX file, with "a"/"b" suffixes on the
    years of entries whose authors and year coincide (ordered by title), as author-year
    styles print them: ``("Mozafari et al.", "2019a")``."""
    from pybtex.database import parse_file

    data = parse_file(str(bib))
    labels, groups = {}, {}
    for key, entry in data.entries.items():
        people = entry.persons.get("author") or entry.persons.get("editor") or []
        last = [_latex_to_text(" ".join(p.prelast_names + p.last_names)) for p in people]
        if not last:
            authors = _latex_to_text(entry.fields.get("title", key))
        elif len(last) == 1:
            authors = last[0]
        elif len(last) == 2:
            authors = f"{last[0]} and {last[1]}"
        else:
            authors = f"{last[0]} et al."
        year = entry.fields.get("year", "n.d.")
        labels[key] = (authors, year)
        groups.setdefault((authors, year), []).append((_latex_to_text(entry.fields.get("title", "")).lower(), key))
    for (authors, year), members in groups.items():
        if len(members) > 1:
            for i, (_, key) in enumerate(sorted(members)):
                labels[key] = (authors, year + "abcdefghijklmnopqrstuvwxyz"[i])
    return labels


def _cite(role: str, body: str, bib: Path) -> str:
    labels = citation_labels(bib)
    keys = [k.strip() for k in body.split(",") if k.strip()]
    found = [labels.get(k, (k, "?")) for k in keys]
    if role == "cite:t":
        return "; ".join(f"{a} ({y})" for a, y in found)
    return "(" + "; ".join(f"{a}, {y}" for a, y in found) + ")"


# --------------------------------------------------------------------------- roles
def _split_target(body: str) -> tuple[str | None, str]:
    """``"text <target>"`` -> ``("text", "target")``; ``"target"`` -> ``(None, "target")``."""
    m = re.fullmatch(r"(?s)(.*?)\s*<([^<>]+)>", body.strip())
    if m and m[1]:
        return m[1].strip(), m[2].strip()
    return None, body.strip()


def _doc_title(book: Path, target: str) -> str:
    path = book / f"{target.removeprefix('/').removeprefix('book/')}.md"
    if path.is_file():
        for line in path.read_text().splitlines():
            if line.startswith("# "):
                return line[2:].strip()
    return target


def _role(m: re.Match, ctx: dict) -> str:
    role, body = m["role"], m["body"]
    text, target = _split_target(body)
    if role in ("term",):
        return text or target
    if role in ("cite:p", "cite:t", "cite", "cite:ps", "cite:ts"):
        return _cite("cite:t" if role.startswith("cite:t") else "cite:p", body, ctx["bib"])
    if role.startswith("glue"):
        return f"`{target.split(':')[0]}`"
    if role == "doc":
        return text or f"the chapter *{_doc_title(ctx['book'], target)}*"
    if role == "numref":
        number = ctx["figures"].get(target)
        label = f"Fig. {number}" if number else "the figure"
        return text.replace("%s", str(number or "")).strip() if text else label
    if role == "ref":
        return text or ctx["sections"].get(target, target)
    if role in ("func", "class", "meth", "mod", "attr", "obj", "data", "exc", "py:func", "py:class"):
        name = target.removeprefix("~")
        shown = name.rsplit(".", 1)[-1] if target.startswith("~") else name
        return f"`{shown}{'()' if role.endswith('func') or role == 'meth' else ''}`" if not text else text
    if role == "math":
        return f"${body}$"
    if role in ("sub", "sup"):
        return f"<{role}>{body}</{role}>"
    return text or target


def _roles(text: str, ctx: dict) -> str:
    return _ROLE.sub(lambda m: _role(m, ctx), text)


# --------------------------------------------------------------------------- directives
def _directive_body(lines: list[str], start: int, fence: str) -> tuple[list[str], dict, int]:
    """Options and body lines of the directive opened at ``lines[start]``; index after it."""
    options, body, i = {}, [], start + 1
    while i < len(lines) and re.match(r"^:[a-zA-Z-]+:", lines[i]):
        key, _, value = lines[i][1:].partition(":")
        options[key.strip()] = value.strip()
        i += 1
    depth = 0
    while i < len(lines):
        line = lines[i]
        if line.strip() == fence and depth == 0:
            return body, options, i + 1
        opener = _FENCE_OPEN.match(line)
        if opener and opener["fence"] == fence:
            depth += 1
        elif line.strip() == fence:
            depth -= 1
        body.append(line)
        i += 1
    return body, options, i


def _pyobject_lines(source: str, name: str) -> tuple[int, int]:
    """1-based first and last line of the top-level (or ``Class.method``) object ``name``."""
    tree = ast.parse(source)
    nodes, parts = tree.body, name.split(".")
    node = None
    for part in parts:
        node = next(n for n in nodes if getattr(n, "name", None) == part)
        nodes = getattr(node, "body", [])
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    return first, node.end_lineno


def literalinclude(path: Path, options: dict) -> str:
    """The text ``{literalinclude}`` shows: ``:pyobject:``, ``:lines:``, ``:start-at:``,
    ``:start-after:``, ``:end-at:``, ``:end-before:`` and ``:dedent:`` applied, in that order
    (Sphinx's order)."""
    source = path.read_text()
    lines = source.splitlines()
    if "pyobject" in options:
        first, last = _pyobject_lines(source, options["pyobject"])
        lines = lines[first - 1:last]
    if "lines" in options:
        chosen = []
        for part in options["lines"].split(","):
            a, _, b = part.strip().partition("-")
            lo = int(a) if a else 1
            hi = (int(b) if b else len(lines)) if _ else lo
            chosen += lines[lo - 1:hi]
        lines = chosen
    for key in ("start-at", "start-after"):
        if key in options:
            i = next(i for i, l in enumerate(lines) if options[key] in l)
            lines = lines[i if key == "start-at" else i + 1:]
    for key in ("end-at", "end-before"):
        if key in options:
            i = next(i for i, l in enumerate(lines) if options[key] in l)
            lines = lines[:i + 1 if key == "end-at" else i]
    if "dedent" in options:
        import textwrap

        lines = textwrap.dedent("\n".join(lines)).splitlines()
    return "\n".join(lines)


def _directive(name: str, arg: str, options: dict, body: list[str], ctx: dict) -> list[str]:
    if name == "literalinclude":
        language = options.get("language", "python")
        code = literalinclude((ctx["book"] / arg).resolve(), options)
        return [f"```{language}", *code.splitlines(), "```"]
    if name in ("figure", "glue:figure", "gluefigure"):
        label = options.get("name")
        number = ctx["figures"].get(label) if label else None
        caption = _convert_lines(body, ctx)
        while caption and not caption[0].strip():
            caption.pop(0)
        prefix = f"Fig. {number}. " if number else ""
        if caption:
            caption[0] = f"*{prefix}" + caption[0]
            last = max(i for i, l in enumerate(caption) if l.strip())
            caption[last] = caption[last].rstrip() + "*"
        return caption
    if name in ("math",):
        return ["$$", *body, "$$"]
    if name in ("glossary", "bibliography", "eval-rst", "toctree", "tableofcontents"):
        return []
    # admonitions (admonition, note, tip, warning, ...), div, dropdown: a block quote
    title = arg.strip() or ("" if name in ("admonition", "div") else name.capitalize())
    inner = _convert_lines(body, ctx)
    quoted = [f"> **{_roles(title, ctx)}**", ">"] if title else []
    quoted += [f"> {line}".rstrip() for line in inner]
    return quoted


def _convert_lines(lines: list[str], ctx: dict) -> list[str]:
    out, i = [], 0
    while i < len(lines):
        line = lines[i]
        opener = _FENCE_OPEN.match(line)
        if opener:
            body, options, i = _directive_body(lines, i, opener["fence"])
            out += _directive(opener["name"], opener["arg"], options, body, ctx)
            continue
        if _LABEL_LINE.match(line):
            i += 1
            continue
        if re.match(r"^(`{3,}|~{3,})", line):  # a plain code block: copy as it is
            fence = re.match(r"^(`{3,}|~{3,})", line)[1]
            out.append(line)
            i += 1
            while i < len(lines) and not lines[i].startswith(fence):
                out.append(lines[i])
                i += 1
            if i < len(lines):
                out.append(lines[i])
                i += 1
            continue
        out.append(_roles(line, ctx) if "{" in line else line)
        i += 1
    return out


def _context(book: Path, sources: list[str]) -> dict:
    """Figure numbers (labelled figure directives in order) and section titles (``(label)=``
    before a heading) of one chapter."""
    figures, sections, n = {}, {}, 0
    for source in sources:
        lines = source.splitlines()
        for j, line in enumerate(lines):
            opener = _FENCE_OPEN.match(line)
            if opener and opener["name"] in ("figure", "glue:figure", "gluefigure"):
                n += 1
                for opt in lines[j + 1:j + 8]:
                    if opt.startswith(":name:"):
                        figures[opt.split(":", 2)[2].strip()] = n
            if _LABEL_LINE.match(line) and j + 1 < len(lines):
                heading = lines[j + 1].lstrip("#").strip()
                sections[line.strip()[1:-2]] = heading or line.strip()[1:-2]
    return {"book": book, "bib": book / "references.bib", "figures": figures, "sections": sections}


def myst_to_markdown(source: str, ctx: dict) -> str:
    """One Markdown cell's MyST source as plain (Jupyter/Colab) Markdown."""
    return "\n".join(_convert_lines(source.splitlines(), ctx)).strip("\n")


# --------------------------------------------------------------------------- notebooks
def paired_notebook(md: Path):
    """The paired notebook of one chapter (an ``nbformat`` notebook without outputs)."""
    import jupytext
    import nbformat

    nb = jupytext.read(md)
    nb.metadata.pop("jupytext", None)
    nb.nbformat, nb.nbformat_minor = 4, 5
    ctx = _context(md.parent, [c.source for c in nb.cells if c.cell_type == "markdown"])
    cells = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = myst_to_markdown(cell.source, ctx)
            if not cell.source.strip():
                continue
        elif cell.cell_type == "code" and set(cell.metadata.get("tags", [])) & set(HIDDEN_TAGS):
            cell.metadata.setdefault("jupyter", {})["source_hidden"] = True
        cells.append(cell)
    # the note goes after the title (first Markdown cell), or first
    at = next((i + 1 for i, c in enumerate(cells) if c.cell_type == "markdown"), 0)
    cells.insert(at, nbformat.v4.new_markdown_cell(NOTEBOOK_NOTE))
    for i, cell in enumerate(cells):
        cell.id = f"cell-{i}"
    nb.cells = cells
    return nb


def write_paired_notebooks(book: Path) -> list[Path]:
    """Write ``<chapter>.ipynb`` for every ``<chapter>.md`` in ``book`` that has a kernelspec;
    return the paths written."""
    import jupytext

    written = []
    for md in sorted(book.glob("*.md")):
        if "\nkernelspec:" not in md.read_text():
            continue
        path = md.with_suffix(".ipynb")
        jupytext.write(paired_notebook(md), path)
        written.append(path)
    return written


if __name__ == "__main__":
    write_paired_notebooks(Path(sys.argv[1] if len(sys.argv) > 1 else "book"))
