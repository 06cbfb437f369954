"""A small Sphinx extension for the book's site (``tools/book_sphinx.py``, listed in _config.yml under
``sphinx: local_extensions``; repository tooling, not part of the installed package).

* Jupyter Book 1 registers sphinx-thebe's inline configuration script twice, which makes the
  browser report "Identifier 'THEBE_JS_URL' has already been declared" on every page: keep one
  copy of each script tag.
* pydata-sphinx-theme's page template reads the colour mode from a context variable that
  nothing sets, so every page logs "Got invalid theme mode": set it to light.
* Page weight: myst-nb embeds the ipywidgets state of a notebook (tens of kB) in every chapter
  with sliders, for the widget manager to render live widgets. The site shows the static
  slider blocks instead (``text/html``, see ``snnbook.widgets``) and loads no widget manager
  (``nb_ipywidgets_js`` is empty in _config.yml), so the state is dropped from the page.
  Figures load lazily (``loading="lazy"``): a first visit fetches only those in view. The
  theme's ``fontawesome.js`` (540 kB) is dropped from every page: it only turns the icon tags
  into SVG, and the theme's stylesheet already draws the same icons from Font Awesome's web
  fonts.
* Citations are author-year everywhere, in the text and in the bibliography: the pybtex
  formatting style ``snnbook`` (``bibtex_default_style``) labels each entry "Author, Year"
  ("Author and Other, Year", "Author et al., Year"), with a, b, ... appended when two entries
  would get the same label, and the referencing style ``snnbook_author_year``
  (``bibtex_reference_style``) takes the year of a citation from that label, so that the text
  says "Mozafari et al., 2019a" where the bibliography lists [Mozafari et al., 2019a].
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

WIDGET_STATE_MIMETYPE = "application/vnd.jupyter.widget-state+json"


def _lazy_images(body: str) -> str:
    """``loading="lazy"`` on every ``<img>`` of a page body that loads a file (not a data URI)."""
    return re.sub(r'<img (?![^>]*\bloading=)(?![^>]*\bsrc="data:)', '<img loading="lazy" ', body)


def _page_context(app, pagename, templatename, context, doctree):
    if not context.get("default_mode"):
        context["default_mode"] = "light"
    if context.get("body"):
        context["body"] = _lazy_images(context["body"])
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for js in scripts:
        if getattr(js, "attributes", {}).get("type") == WIDGET_STATE_MIMETYPE:
            continue
        key = (getattr(js, "filename", js) or "", tuple(sorted(getattr(js, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(js)
    scripts[:] = unique


def _last_names(person) -> str:
    """'van der Maaten', 'Delbrück': prelast and last names, LaTeX turned into text."""
    return " ".join(n.render_as("text") for n in person.rich_prelast_names + person.rich_last_names)


def author_year_label(entry) -> str:
    """'Masquelier and Thorpe, 2007', 'Mozafari et al., 2019' (before any a/b suffix)."""
    persons = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [_last_names(p) for p in persons]
    if not names:
        who = entry.fields.get("title", entry.key)
    elif len(names) == 1:
        who = names[0]
    elif len(names) == 2:
        who = f"{names[0]} and {names[1]}"
    else:
        who = f"{names[0]} et al."
    return f"{who}, {entry.fields.get('year', 'n.d.')}"


def _make_styles():
    from pybtex.richtext import Text
    from pybtex.style.formatting.plain import Style as PlainStyle
    from pybtex.style.labels import BaseLabelStyle
    from pybtex.style.sorting import BaseSortingStyle
    from sphinxcontrib.bibtex.style.referencing import BracketStyle
    from sphinxcontrib.bibtex.style.referencing.author_year import AuthorYearReferenceStyle
    from sphinxcontrib.bibtex.style.referencing.basic_author_year import (
        BasicAuthorYearParentheticalReferenceStyle, BasicAuthorYearTextualReferenceStyle)
    from sphinxcontrib.bibtex.style.template import join, join2, node, post_text, pre_text, reference, year

    class AuthorYearLabelStyle(BaseLabelStyle):
        """Labels 'Author et al., 2019', with a, b, ... where two entries would share one."""

        def format_labels(self, sorted_entries):
            entries = list(sorted_entries)
            labels = [author_year_label(e) for e in entries]
            total, seen = Counter(labels), Counter()
            for label in labels:
                if total[label] > 1:
                    yield label + "abcdefghijklmnopqrstuvwxyz"[seen[label]]
                    seen[label] += 1
                else:
                    yield label

    class SnnbookStyle(PlainStyle):
        """pybtex's 'plain' (sorted by author, year, title) with author-year labels."""

        default_label_style = "snnbook_author_year"
        default_sorting_style = "snnbook_author_year"

    class AuthorYearSortingStyle(BaseSortingStyle):
        """By label (first author, co-authors, year), then title: the order of a and b."""

        def sorting_key(self, entry):
            return author_year_label(entry).casefold(), entry.fields.get("title", "").casefold()

    @node
    def label_year(children, data):
        """The year of the entry's label, with its a/b suffix ('2019a')."""
        label = data["formatted_entry"].label
        if ", " in label:
            return Text(label.rsplit(", ", 1)[1])
        return year.format_data(data)

    @dataclass
    class Parenthetical(BasicAuthorYearParentheticalReferenceStyle):
        def inner(self, role_name):
            return join2(sep1=self.pre_text_sep, sep2=self.post_text_sep)[
                pre_text,
                reference[join(sep=self.author_year_sep)[
                    self.person.author_or_editor_or_title(full="s" in role_name), label_year]],
                post_text,
            ]

    @dataclass
    class Textual(BasicAuthorYearTextualReferenceStyle):
        def inner(self, role_name):
            return join(sep=self.text_reference_sep)[
                self.person.author_or_editor_or_title(full="s" in role_name),
                join[self.bracket.left,
                     join2(sep1=self.pre_text_sep, sep2=self.post_text_sep)[
                         pre_text, reference[label_year], post_text],
                     self.bracket.right],
            ]

    @dataclass
    class SnnbookReferenceStyle(AuthorYearReferenceStyle):
        """sphinxcontrib-bibtex's author_year, with the year (and its a/b) from the label and
        several works in one citation separated by semicolons."""

        bracket_parenthetical: BracketStyle = field(default_factory=lambda: BracketStyle(sep="; "))

        def __post_init__(self):
            super().__post_init__()
            for i, style in enumerate(self.styles):
                if type(style) is BasicAuthorYearParentheticalReferenceStyle:
                    self.styles[i] = Parenthetical(
                        bracket=style.bracket, person=style.person, author_year_sep=style.author_year_sep,
                        pre_text_sep=style.pre_text_sep, post_text_sep=style.post_text_sep)
                elif type(style) is BasicAuthorYearTextualReferenceStyle:
                    self.styles[i] = Textual(
                        bracket=style.bracket, person=style.person, text_reference_sep=style.text_reference_sep,
                        pre_text_sep=style.pre_text_sep, post_text_sep=style.post_text_sep)
            # the group dispatches by role name through this table, built from the old styles
            self.role_style.update((role_name, style) for style in self.styles
                                   for role_name in style.role_names())

    return AuthorYearLabelStyle, AuthorYearSortingStyle, SnnbookStyle, SnnbookReferenceStyle


def _register_citation_styles():
    import pybtex.plugin
    from sphinxcontrib.bibtex.plugin import register_plugin

    labels, sorting, formatting, referencing = _make_styles()
    pybtex.plugin.register_plugin("pybtex.style.labels", "snnbook_author_year", labels, force=True)
    pybtex.plugin.register_plugin("pybtex.style.sorting", "snnbook_author_year", sorting, force=True)
    pybtex.plugin.register_plugin("pybtex.style.formatting", "snnbook", formatting, force=True)
    register_plugin("sphinxcontrib.bibtex.style.referencing", "snnbook_author_year", referencing, force=True)


FONTAWESOME_JS = re.compile(r'[ \t]*<script defer src="[^"]*_static/scripts/fontawesome\.js[^"]*"></script>\n?')


def drop_fontawesome_js(html: str) -> str:
    """A page without the theme's ``fontawesome.js`` script tag (its icons come from the CSS).

    >>> drop_fontawesome_js('<head>\\n  <script defer src="../_static/scripts/fontawesome.js?digest=1"></script>\\n</head>')
    '<head>\\n</head>'
    """
    return FONTAWESOME_JS.sub("", html)


def _build_finished(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    from pathlib import Path
    for page in Path(app.outdir).rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        lighter = drop_fontawesome_js(text)
        if lighter != text:
            page.write_text(lighter, encoding="utf-8")


def setup(app):
    _register_citation_styles()
    app.connect("html-page-context", _page_context, priority=900)
    app.connect("build-finished", _build_finished)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
