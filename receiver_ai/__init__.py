"""GPU receiver of gensem: bridge client, metrics (and, later, the diffusion pipelines).

Runs on a host without GNU Radio: nothing in this package may import ``gnuradio``
(tests/unit/test_bridge_client.py checks it in a fresh interpreter).
"""
