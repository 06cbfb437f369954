"""A small Sphinx extension for the book's site (listed in _config.yml as an extra extension).

* Jupyter Book 1 registers sphinx-thebe's inline configuration script twice, which makes the
  browser report "Identifier 'THEBE_JS_URL' has already been declared" on every page: keep one
  copy of each script tag.
* pydata-sphinx-theme's page template reads the colour mode from a context variable that
  nothing sets, so every page logs "Got invalid theme mode": set it to light.
"""
from __future__ import annotations


def _page_context(app, pagename, templatename, context, doctree):
    if not context.get("default_mode"):
        context["default_mode"] = "light"
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for js in scripts:
        key = (getattr(js, "filename", js) or "", tuple(sorted(getattr(js, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(js)
    scripts[:] = unique


def setup(app):
    app.connect("html-page-context", _page_context, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
