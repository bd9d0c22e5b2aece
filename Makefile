# Two commands for a fresh machine that has only Python:
#   make run   - create .venv, install requirements.txt, start the app on http://localhost:8501
#   make test  - create .venv, install runtime + dev requirements, run ruff, pytest and the install check
# Also: make install-check (pip install . into a fresh venv, use odcore from another folder),
#       make lock (regenerate requirements*.txt from the pins in pyproject.toml)
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8501

.PHONY: run test lint install-check lock bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.run-installed: requirements.txt | $(PY)
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt requirements-ray.txt | $(PY)
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

run: $(VENV)/.run-installed
	$(PY) -m streamlit run app.py --server.port $(PORT)

lint: $(VENV)/.dev-installed
	$(PY) -m ruff check .

test: $(VENV)/.dev-installed
	$(PY) -m ruff check .
	$(PY) -m pytest
	$(PY) -m tools.install_check

install-check: | $(PY)
	$(PY) -m tools.install_check

lock: | $(PY)
	$(PY) -m tools.lock

bench: $(VENV)/.dev-installed
	$(PY) -m bench.speed

clean:
	rm -rf $(VENV) .pytest_cache artifacts build *.egg-info
