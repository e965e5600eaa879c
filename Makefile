# gensem: the two commands a newcomer needs are `make demo` and `make test`; each sets up what
# is missing first (GNU Radio from apt, .venv with the project), in seconds when nothing is.
PY := .venv/bin/python
export PYTHONPATH := $(CURDIR)/gr-gensem/python:$(CURDIR)
SETUP := .venv/.gensem-setup
# the GPU receiver's own venv: no GNU Radio, `pip install ".[receiver]"` (docs/architecture.md)
RX_VENV := .venv-receiver
RX_SETUP := $(RX_VENV)/.gensem-setup
RECEIVER_TESTS := tests/unit/test_architecture.py tests/unit/test_bridge_client.py \
	tests/unit/test_bridge_schema.py tests/unit/test_metrics.py tests/unit/test_cdm_jscc.py \
	tests/unit/test_cdm_jscc_model.py tests/unit/test_edge_codec.py \
	tests/unit/test_edge_diffusion_checkpoint.py tests/unit/test_edge_unet.py \
	tests/unit/test_jscc_assembler.py tests/unit/test_receiver_pipelines.py tests/unit/test_model_files.py \
	tests/e2e/test_receiver_cli.py

.PHONY: setup test test-slow test-receiver receiver-venv demo bench lint

setup: $(SETUP)

$(SETUP): scripts/setup.sh pyproject.toml
	bash scripts/setup.sh
	touch $@

receiver-venv: $(RX_SETUP)

$(RX_SETUP): scripts/setup_receiver.sh pyproject.toml
	bash scripts/setup_receiver.sh $(RX_VENV)
	touch $@

test: $(SETUP)
	$(PY) -m pytest -q tests

# the receiver's test subset in the GPU-host install (no GNU Radio); `make test` does not need it
test-receiver: $(RX_SETUP)
	cd /tmp && $(CURDIR)/$(RX_VENV)/bin/gensem-receiver --help >/dev/null
	env -u PYTHONPATH $(RX_VENV)/bin/python -m pytest -q -p no:cacheprovider $(RECEIVER_TESTS)

test-slow: $(SETUP)
	$(PY) -m pytest -q -m slow tests

demo: $(SETUP)
	$(PY) scripts/demo_loopback.py --out out/demo
	$(PY) -m gensem.cli demo --image skimage:immunohistochemistry \
		--prompt "a microscope image of stained tissue" --snr-db 15 --out out/demo_semantic
	# CDM-JSCC over the link; its decoded PDUs also go over the ZeroMQ bridge to gensem-receiver
	# (another process, as on a GPU host), which decodes the image again: out/demo_jscc/receiver
	rm -rf out/demo_jscc; sock=ipc:///tmp/gensem-demo-jscc-$$$$.sock; \
	$(PY) -m receiver_ai.cli --connect $$sock --bind --pattern pull --backend cdm-jscc --seed 0 \
		--max-images 1 --timeout 120 --out out/demo_jscc/receiver & rx=$$!; \
	$(PY) -m gensem.cli jscc send --image skimage:immunohistochemistry --snr-db 10 --cbr 1/48 --over-link \
		--out out/demo_jscc --bridge $$sock; tx=$$?; [ $$tx -eq 0 ] || kill $$rx; wait $$rx && exit $$tx

bench: $(SETUP)
	$(PY) scripts/bench_loopback.py

lint:
	$(PY) -m ruff check gr-gensem scripts tests
