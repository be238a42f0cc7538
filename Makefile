# Two commands do everything on a fresh machine (offline apart from the package registries):
#   make demo   - create .venv, install the pinned deps, train briefly on the embedded CIFAR-10 sample,
#                 export to TFLite, print accuracy / size / latency
#   make test   - same bootstrap, then the whole test suite under TensorFlow, JAX and PyTorch
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PINS   := $(shell cat requirements.txt pyproject.toml | sha1sum | cut -c1-12)
STAMP  := $(VENV)/.stamp-$(PINS)

.PHONY: venv demo test test-tensorflow test-jax test-torch readme bench clean

venv: $(STAMP)

# (Re)install when .venv is missing or the pins changed (the stamp name is a hash of the pin files).
$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	rm -f $(VENV)/.stamp-*
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt
	$(PY) -m pip install --disable-pip-version-check -q --no-deps --no-build-isolation -e .
	touch $@

demo: venv
	$(PY) -m keras_mobilenets.demo

test: venv
	$(PY) tests/run_backends.py

test-tensorflow test-jax test-torch: venv
	$(PY) tests/run_backends.py --backends $(@:test-%=%)

readme: venv
	$(PY) scripts/model_table.py --write README.md

clean:
	rm -rf $(VENV) runs .pytest_cache
