# One command to set up and run the main job, one to set up and pass the tests.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
EXAMPLE := examples/out

.PHONY: setup demo test clean

$(BIN)/mixlab: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(BIN)/mixlab

setup: $(BIN)/mixlab

# Until the web app exists, the main job is the CLI on an example: master a generated mix
# for every platform and print what was decided and measured.
demo: setup
	mkdir -p $(EXAMPLE)
	$(BIN)/python examples/make_example_mix.py $(EXAMPLE)/example_mix.wav
	$(BIN)/mixlab master $(EXAMPLE)/example_mix.wav --all-targets -o $(EXAMPLE)/masters --plan-out $(EXAMPLE)/plan.json
	$(BIN)/mixlab analyze $(EXAMPLE)/masters/example_mix.spotify.wav

test: setup
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) $(EXAMPLE) .pytest_cache
