# Two commands on a fresh clone:  `make run` (server + demo data)  and  `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test install messages

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

# On every core up to 4 (pytest-xdist; `make test PYTEST_WORKERS=0`: one process): live tests mostly
# wait on their server processes. --dist loadfile keeps a module on one worker, so its
# module-scoped servers start once; the modules go out in the order conftest.py gives them (live
# ones first), not by test count (xdist's default, which left the few-test, slow live modules for
# last). At most 4: each worker starts live servers of its own.
PYTEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); [ "$$n" -gt 4 ] && n=4; echo $$n)
test: install
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

# The French catalogue (locale/fr/LC_MESSAGES): after marking or changing a message, extract, fill
# in the new entries of django.po, then run it again to compile. Commit the .po and the .mo: a
# fresh clone needs nothing more. Needs GNU gettext (Debian's `gettext`) where it runs.
MESSAGES_IGNORE := --ignore '.venv/*' --ignore 'bench/*' --ignore 'test-artifacts/*' --ignore 'staticfiles/*' --ignore '*/tests/*'
messages: install
	$(BIN)/python manage.py makemessages --locale fr --add-location file --no-obsolete $(MESSAGES_IGNORE)
	$(BIN)/python manage.py compilemessages --locale fr $(MESSAGES_IGNORE)
