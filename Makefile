# Two commands for readers and contributors (see README):
#   make book   installs everything, executes every chapter, builds the static site in _build/html
#   make test   installs everything, runs the whole test suite (unit, chapters, site build, browser)
# Both are idempotent: the virtual environment, the vendored JavaScript and Chromium are reused.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.snnbook-installed
VENDOR := _vendor
VENDOR_STAMP := $(VENDOR)/.vendored
JB := $(VENV)/bin/jupyter-book
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# npm packages served by the site itself, so that it works with no network at all.
MATHJAX := mathjax@3.2.2
REQUIREJS := requirejs@2.3.8
HTML_MANAGER := @jupyter-widgets/html-manager@1.0.15

.PHONY: book book-noexec test venv vendor chromium clean help notebooks readme

help:
	@echo "make book        install, execute every chapter, build the site in _build/html"
	@echo "make book-noexec build the site without executing the chapters (fast, no outputs)"
	@echo "make test        install, run the whole test suite (unit, chapters, site, browser)"
	@echo "make notebooks   regenerate the paired .ipynb of every chapter (for Colab)"
	@echo "make readme      rewrite README.md's results section from results/*.json"
	@echo "make clean       remove _build (keeps the virtual environment)"

venv: $(STAMP)

$(STAMP): requirements.txt requirements-nodeps.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-nodeps.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	$(PY) -c "import snnbook.data as d; d.ensure_mnist()"
	touch $@

vendor: $(VENDOR_STAMP)

# MathJax, require.js and the Jupyter widgets HTML manager, from the npm registry. They live in
# _vendor/ (an extra static path), not _static/: Jupyter Book adds every .js file in _static/ as
# a script tag on every page.
$(VENDOR_STAMP): Makefile
	@command -v npm >/dev/null 2>&1 || { $(SUDO) apt-get update -q && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -q npm; }
	rm -rf $(VENDOR) && mkdir -p $(VENDOR)/pack
	cd $(VENDOR)/pack && npm pack --silent $(MATHJAX) $(REQUIREJS) $(HTML_MANAGER) >/dev/null
	cd $(VENDOR)/pack && for f in *.tgz; do mkdir -p "$${f%.tgz}" && tar -xzf "$$f" -C "$${f%.tgz}" --strip-components=1; done
	mkdir -p $(VENDOR)/mathjax $(VENDOR)/requirejs $(VENDOR)/html-manager
	cp -r $(VENDOR)/pack/mathjax-*/es5 $(VENDOR)/mathjax/
	cp $(VENDOR)/pack/requirejs-*/require.js $(VENDOR)/requirejs/
	cp $(VENDOR)/pack/jupyter-widgets-html-manager-*/dist/embed-amd.js $(VENDOR)/html-manager/
	# embed-amd.js loads its icon fonts from "@jupyter-widgets/html-manager/dist/" relative to the
	# page; every chapter lives in book/, so the fonts go there.
	mkdir -p "$(VENDOR)/book/@jupyter-widgets/html-manager/dist"
	cd $(VENDOR)/pack/jupyter-widgets-html-manager-*/dist && cp *.woff *.woff2 *.ttf *.eot *.svg "$(CURDIR)/$(VENDOR)/book/@jupyter-widgets/html-manager/dist/"
	rm -rf $(VENDOR)/pack
	touch $@

chromium:
	@command -v chromium >/dev/null 2>&1 || { $(SUDO) apt-get update -q && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }

book: venv vendor
	rm -rf _build/html _build/jupyter_execute
	SNNBOOK_STATIC=1 SNNBOOK_COMPILE_NOTICE=0 $(JB) build . -W -n --keep-going

book-noexec: venv vendor
	mkdir -p _build
	# the copy lives in _build/, and Jupyter Book resolves local_extensions paths beside it
	sed -e 's/^  execute_notebooks: .*/  execute_notebooks: "off"/' \
	    -e 's|^    book_sphinx: tools/|    book_sphinx: ../tools/|' _config.yml > _build/_config_noexec.yml
	grep -q 'book_sphinx: ../tools/' _build/_config_noexec.yml
	$(JB) build . --config _build/_config_noexec.yml

# Each chapter executes once: in the Colab stand-in (tests/colab.py), whose outputs the site build
# then reuses; the run ends with every chapter's wall and CPU time (also in
# _build/test-build/chapter_execution.json).
test: venv vendor chromium
	$(PY) -m pytest -ra --durations=25

clean:
	rm -rf _build

# Colab opens .ipynb files only: each MyST chapter has a paired notebook without outputs, kept in
# sync by tests/test_notebooks.py. Run this after editing a chapter.
notebooks: venv
	$(PY) tools/book_notebooks.py book

# The README's results section is generated from the published record (tests/test_readme_numbers.py
# checks it). Run this after results/ changed.
readme: venv
	$(PY) tools/readme_results.py
