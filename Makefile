# One command to set up and run the main job, one to set up and pass the tests.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
EXAMPLE := examples/out

.PHONY: setup run demo test clean

$(BIN)/mixlab: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(BIN)/mixlab

setup: $(BIN)/mixlab

# The main job: the web app on the embedded default (SQLite, files under ./mixlab-data, an
# in-process worker). Open the URL it prints.
run: setup
	$(BIN)/mixlab serve

# The same engine from the CLI on an example: mix a generated multitrack session (a ZIP of
# stems), then master the mix for every platform, printing every decision.
demo: setup
	mkdir -p $(EXAMPLE)
	$(BIN)/python examples/make_example_stems.py $(EXAMPLE)/stems --zip
	$(BIN)/mixlab mix $(EXAMPLE)/stems.zip -o $(EXAMPLE)/mix.wav --genre pop --plan-out $(EXAMPLE)/mixplan.json --stems-out $(EXAMPLE)/processed
	$(BIN)/mixlab master $(EXAMPLE)/mix.wav --all-targets -o $(EXAMPLE)/masters --plan-out $(EXAMPLE)/masterplan.json
	$(BIN)/mixlab analyze $(EXAMPLE)/masters/mix.spotify.wav

# The browser tests drive Debian's chromium (/usr/bin/chromium) with PyPI playwright; without
# it they skip, unless MIXLAB_REQUIRE_BROWSER=1 (CI sets it and installs chromium first).
test: setup
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) $(EXAMPLE) .pytest_cache mixlab-data
