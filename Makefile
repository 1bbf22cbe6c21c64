# Two commands on a fresh clone:  `make run` (server + demo data)  and  `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test install

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

# Embedded defaults (SQLite, in-process channel layer), daphne on http://127.0.0.1:8000
run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo --reset
	DEMO_FLEET=$${DEMO_FLEET:-1} DEMO_AUTO_ACCEPT=$${DEMO_AUTO_ACCEPT:-1} \
	  $(BIN)/python -m realtime.server -b 127.0.0.1 -p 8000 rideshare.asgi:application

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)
