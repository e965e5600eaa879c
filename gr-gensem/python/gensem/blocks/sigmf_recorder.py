"""GNU Radio hier block ``gensem_sigmf_recorder``: records complex baseband to SigMF.

    in -> blocks.file_sink (``<path>.sigmf-data``, cf32_le)

and writes ``<path>.sigmf-meta`` at construction: sample rate, centre frequency, gain,
SNR (when known: None or NaN = unknown) and the gensem link parameters (``extra``, in the ``gensem:`` global
namespace). ``write_meta(annotations)`` rewrites the metadata with per-frame
annotations once the run is over (``gensem record`` does this). ``gensem replay`` and
``sigmf_io.read_recording`` read the pair back.
"""

from __future__ import annotations

import math

from gnuradio import blocks, gr

from gensem.core import sigmf_io


class sigmf_recorder(gr.hier_block2):
    MESSAGE_INPUTS = ()
    MESSAGE_OUTPUTS = ()

    def __init__(
        self,
        path="recording",
        samp_rate=1e6,
        center_freq=0.0,
        gain_db=None,
        snr_db=None,
        description="",
        extra=None,
    ):
        gr.hier_block2.__init__(
            self,
            "gensem_sigmf_recorder",
            gr.io_signature(1, 1, gr.sizeof_gr_complex),
            gr.io_signature(0, 0, 0),
        )
        if not float(samp_rate) > 0:
            raise ValueError(f"samp_rate must be > 0, got {samp_rate}")
        self.base = sigmf_io.base_path(path)
        self.info = {
            "samp_rate": float(samp_rate),
            "center_freq": float(center_freq),
            "gain_db": _known(gain_db),
            "snr_db": _known(snr_db),
            "description": str(description),
            "extra": dict(extra or {}),
        }
        self.base.parent.mkdir(parents=True, exist_ok=True)
        self.write_meta()
        self.sink = blocks.file_sink(gr.sizeof_gr_complex, str(sigmf_io.data_path(self.base)), False)
        self.sink.set_unbuffered(False)
        self.connect(self, self.sink)

    def write_meta(self, annotations=()):
        """(Re)write ``<path>.sigmf-meta``; annotations: dicts with sample_start,
        sample_count, label and any ``gensem:`` fields."""
        return sigmf_io.write_meta(self.base, annotations=annotations, **self.info)

    def close(self):
        """Flush and close the data file (after the flowgraph has stopped)."""
        self.sink.close()


def _known(x):
    """None for an unknown value (None or NaN), else a float."""
    return None if x is None or math.isnan(float(x)) else float(x)
