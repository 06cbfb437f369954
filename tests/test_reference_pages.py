"""The site's reference pages: an API reference with one page per module that documents every
public name of the module and links to its chapter, a glossary with the terms the chapters link
to, and a bibliography with every work the book draws on, labelled author-year."""
from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODULES = ["retina", "coding", "neurons", "layers", "competition", "plasticity", "models.mozafari2019", "training",
           "data", "viz", "widgets", "models.diehl_cook2015", "monitors", "events", "models.events_nets",
           "models.kheradpisheh2018", "models.conversion"]
# The networks trained by gradient share one page, book/api/models_gradient.md.
GRADIENT_MODULES = ["models.surrogate", "models.chevalier", "models.spikeprop", "interop", "compare"]
# The run layer, the cards and the recipes share the page of snnbook.training, book/api/training.md.
TRAINING_MODULES = ["training.run", "training.cards", "training.mozafari2019", "training.diehl_cook2015",
                    "training.gradient", "training.events", "cli", "sweep"]
GLOSSARY_TERMS = ["spike-wave", "rank-order code", "lateral inhibition", "k-WTA", "STDP", "R-STDP",
                  "surrogate gradient", "event camera", "IF neuron", "LIF neuron", "refractory period",
                  "DoG", "Gabor filter", "Fano factor", "LTP", "LTD", "stabiliser", "pointwise inhibition"]
REQUIRED_WORKS = ["mozafari2019spyketorch", "mozafari2019bio", "kheradpisheh2018stdp",
                  "masquelier2007unsupervised", "diehl2015unsupervised", "bohte2002spikeprop",
                  "neftci2019surrogate", "eshraghian2023training", "gallego2022event", "lichtsteiner2008dvs",
                  "thorpe1998rank", "vanrullen2001rate", "bi1998synaptic", "mozafari2018first",
                  "fremaux2016neuromodulated", "zenke2018superspike"]

pytestmark = pytest.mark.book


def public_names(module_name):
    module = importlib.import_module(f"snnbook.{module_name}")
    for name, obj in vars(module).items():
        if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
            continue
        if inspect.isfunction(obj) or inspect.isclass(obj):
            yield f"snnbook.{module_name}.{name}"


def api_page(built_book, module_name):
    """book/api/<module>.html, with the dots of a submodule turned into underscores."""
    return built_book / "book" / "api" / f"{module_name.replace('.', '_')}.html"


def test_api_reference_documents_every_public_name_on_its_module_page(built_book):
    total = 0
    for module_name in MODULES:
        page = api_page(built_book, module_name).read_text()
        ids = set(re.findall(r'id="([^"]+)"', page))
        names = list(public_names(module_name))
        total += len(names)
        missing = [n for n in names if n not in ids]
        assert not missing, f"public names missing from the page of snnbook.{module_name}: {missing}"
        assert re.search(r'<h1>.*snnbook\.' + re.escape(module_name), page), module_name
        article = page.split("<article", 1)[-1].split("</article>", 1)[0]   # not the sidebar
        chapters = set(re.findall(r'href="\.\./(neurons|retina|coding|competition|mozafari2019|diehl_cook2015|'
                                  r'stdp_failures|gradient|events|conversion|closing|intro)\.html',
                                  article))
        assert chapters, f"the page of snnbook.{module_name} links to no chapter"
    assert total > 50
    page = (built_book / "book" / "api" / "models_gradient.html").read_text()
    ids = set(re.findall(r'id="([^"]+)"', page))
    for module_name in GRADIENT_MODULES:
        missing = [n for n in public_names(module_name) if n not in ids]
        assert not missing, f"public names missing from the page of snnbook.{module_name}: {missing}"
    assert 'href="../gradient.html' in page.split("<article", 1)[-1], "models_gradient links to no chapter"
    page = (built_book / "book" / "api" / "training.html").read_text()
    ids = set(re.findall(r'id="([^"]+)"', page))
    for module_name in TRAINING_MODULES:
        missing = [n for n in public_names(module_name) if n not in ids]
        assert not missing, f"public names missing from the page of snnbook.{module_name}: {missing}"
    index = (built_book / "book" / "api.html").read_text()
    for module_name in MODULES:
        assert f'href="api/{module_name.replace(".", "_")}.html"' in index, module_name


def test_glossary_defines_the_terms_and_chapters_link_to_them(built_book):
    page = (built_book / "book" / "glossary.html").read_text()
    for term in GLOSSARY_TERMS:
        assert re.search(rf'<dt id="term-{re.escape(term.replace(" ", "-"))}"', page, flags=re.I), term
    chapters = "".join((built_book / "book" / f"{c}.html").read_text()
                       for c in ["neurons", "retina", "coding", "competition"])
    linked = set(re.findall(r'href="glossary.html#term-([^"]+)"', chapters))
    assert len(linked) >= 5, f"chapters link only {linked}"


def test_bibliography_lists_every_work_the_book_draws_on(built_book):
    bib = (ROOT / "book" / "references.bib").read_text()
    page = (built_book / "book" / "bibliography.html").read_text()
    keys = re.findall(r"@\w+\{([^,]+),", bib)
    for key in REQUIRED_WORKS:
        assert key in keys, f"{key} missing from references.bib"
    # sphinxcontrib-bibtex renders one citation entry per key (":all:")
    entries = re.findall(r'<div class="citation" id="id\d+"', page)
    assert len(entries) >= len(keys), f"{len(entries)} rendered entries for {len(keys)} works"
    # author-year labels, the two Mozafari et al. 2019 works told apart, no alpha labels
    assert "Mozafari et al., 2019a" in page and "Mozafari et al., 2019b" in page
    assert "MGNDM19" not in page
    chapter = re.sub(r"<[^>]+>", "", (built_book / "book" / "mozafari2019.html").read_text())
    assert "Mozafari et al., 2019a" in chapter and "Mozafari et al., 2019b" in chapter
