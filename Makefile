# gensem: the two commands a newcomer needs are `make setup` once, then `make demo` / `make test`.
PY := .venv/bin/python
export PYTHONPATH := $(CURDIR)/gr-gensem/python:$(CURDIR)

.PHONY: setup test test-slow demo bench lint

setup:
	bash scripts/setup.sh

test:
	$(PY) -m pytest -q tests

test-slow:
	$(PY) -m pytest -q -m slow tests

demo:
	$(PY) scripts/demo_loopback.py --out out/demo
	$(PY) -m gensem.cli demo --image skimage:immunohistochemistry \
		--prompt "a microscope image of stained tissue" --snr-db 15 --steps 20 --out out/demo_semantic
	# CDM-JSCC over the link; its decoded PDUs also go over the ZeroMQ bridge to gensem-receiver
	# (another process, as on a GPU host), which decodes the image again: out/demo_jscc/receiver
	rm -rf out/demo_jscc; sock=ipc:///tmp/gensem-demo-jscc-$$$$.sock; \
	$(PY) -m receiver_ai.cli --connect $$sock --bind --pattern pull --backend cdm-jscc --seed 0 \
		--max-images 1 --timeout 120 --out out/demo_jscc/receiver & rx=$$!; \
	$(PY) -m gensem.cli jscc send --image skimage:immunohistochemistry --snr-db 10 --cbr 1/48 --over-link \
		--out out/demo_jscc --bridge $$sock; tx=$$?; [ $$tx -eq 0 ] || kill $$rx; wait $$rx && exit $$tx

bench:
	$(PY) scripts/bench_loopback.py

lint:
	$(PY) -m ruff check gr-gensem scripts tests
