# The two set-up commands: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
MO := app/translations/zh/LC_MESSAGES/messages.mo

.PHONY: run test install translations messages check sync demo bench clean

run: install
	$(BIN)/academy db upgrade
	$(BIN)/academy content sync
	$(BIN)/academy demo
	SCHEDULER_ENABLED=$${SCHEDULER_ENABLED:-1} $(BIN)/academy run --host 127.0.0.1 --port $(PORT)

test: install
	$(BIN)/pytest $(PYTEST_ARGS)

install: $(BIN)/.installed $(MO)

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

$(MO): app/translations/zh/LC_MESSAGES/messages.po $(BIN)/.installed
	$(BIN)/pybabel compile --statistics -d app/translations

# After changing user-facing text: extract, then translate the new entries in the .po file.
messages: $(BIN)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k _l --no-location --sort-output -o app/translations/messages.pot .
	$(BIN)/pybabel update -i app/translations/messages.pot -d app/translations --width 100

check: install
	$(BIN)/academy content check

# Every benchmark (dashboard, reminders, production: see bench/README.md), then bench/report.md.
bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) instance/academy.db*
