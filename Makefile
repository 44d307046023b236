# Two commands a newcomer runs on a fresh machine: `make demo` and `make test`.
# Both create the environments they need first; nothing has to be installed by hand.

PYTHON ?= python3
VENV := .venv
CHECKOV_VENV := .venv-checkov
# Checkov pins its own fork of the `hcl2` module, which clashes with python-hcl2 (used by tfkit),
# so it lives in an environment of its own and tfkit runs it as a separate program.
CHECKOV_VERSION := 3.3.30
# Checkov's wheels, downloaded once: .venv-checkov installs from them, and so does the acceptance test's
# offline `tfkit scanners install --find-links` (a new user's path).
CHECKOV_WHEELS := .wheels-checkov
export TFKIT_CHECKOV := $(abspath $(CHECKOV_VENV))/bin/checkov

.PHONY: demo test setup lint clean

setup: $(VENV)/.tfkit-installed $(CHECKOV_VENV)/.installed

$(VENV)/.tfkit-installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[test]'
	touch $@

$(CHECKOV_VENV)/.installed: $(CHECKOV_WHEELS)/.downloaded
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --no-index --find-links $(CHECKOV_WHEELS) 'checkov==$(CHECKOV_VERSION)'
	touch $@

$(CHECKOV_WHEELS)/.downloaded:
	$(PYTHON) -m venv $(CHECKOV_WHEELS)/.pip
	$(CHECKOV_WHEELS)/.pip/bin/python -m pip download --quiet --dest $(CHECKOV_WHEELS) 'checkov==$(CHECKOV_VERSION)'
	rm -rf $(CHECKOV_WHEELS)/.pip
	touch $@

# The demo's database password: a random value in a git-ignored, owner-only file, standing in for
# the secret a CI system would mount. tfkit.toml's [secrets.db_password] reads it from there.
.secrets/db_password:
	mkdir -p .secrets
	umask 077 && $(PYTHON) -c "import secrets; print(secrets.token_urlsafe(24))" > $@

# The main job: apply staging. Promotion order (dev -> staging -> production) means dev goes first,
# so staging only receives module versions dev has already applied.
demo: setup .secrets/db_password
	$(VENV)/bin/tfkit apply --env dev --auto-approve
	$(VENV)/bin/tfkit apply --env staging --auto-approve

# Two pytest-xdist workers, each test module (or class) whole on one worker (--dist loadscope), so its
# expensive fixtures run once (the Checkov parity tests are split into classes to use both workers).
# Every test works in its own temporary directories, so workers share nothing mutable.
# Hypothesis runs its derandomized `fixed` profile (tests/conftest.py); HYPOTHESIS_PROFILE=random opts out.
test: setup
	$(VENV)/bin/python -m pytest -n 2 --dist loadscope

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) $(CHECKOV_WHEELS) .tfkit
