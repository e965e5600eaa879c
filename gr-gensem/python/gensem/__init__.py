"""gensem: generative semantic communications over a GNU Radio two-stream OFDM link.

Blocks are imported lazily so that ``gensem.dsp`` and ``gensem.planner`` stay usable
(and testable) without building a flowgraph::

    from gensem import two_stream_tx, two_stream_rx, ofdm_channel
"""

import importlib

__version__ = "0.1.0"

_BLOCKS = (
    "two_stream_tx",
    "two_stream_rx",
    "ofdm_channel",
    "block_fading",
    "prompt_arq_rx",
    "feedback_channel",
    "prbs_ber_sink",
    "plan_controller",
    "semantic_tx",
    "semantic_rx",
    "sigmf_recorder",
    "radio_sink",
    "radio_source",
    "zmq_bridge_sink",
    "edge_part_parser",
    "zmq_feedback_sink",
    "zmq_feedback_source",
)


def __getattr__(name):
    if name in _BLOCKS:
        cls = getattr(importlib.import_module(f"{__name__}.blocks.{name}"), name)
        globals()[name] = cls  # the class shadows its module, as in GNU Radio OOT modules
        return cls
    raise AttributeError(f"module 'gensem' has no attribute {name!r}")


__all__ = list(_BLOCKS)
