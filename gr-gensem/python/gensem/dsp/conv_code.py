"""Rate-1/2, K=7 convolutional code (polynomials 0o171/0o133, i.e. CCSDS/802.11 code)
using GNU Radio's gr-fec encoder and Viterbi decoder kernels, called synchronously through
:mod:`gensem.dsp.gr_fec` (the one module that imports gr-fec).
Terminated mode: n info bits -> 2 (n + 6) coded bits.
"""

from __future__ import annotations

import numpy as np

from gensem.dsp import gr_fec

K = 7
RATE = 2
POLYS = [79, 109]  # 0o171 / 0o133 written LSB-first, as gr-fec expects
_MAX_FRAME_BITS = 1 << 15

class ConvCode:
    """Terminated K=7 r=1/2 convolutional code. Not thread-safe: one per block."""

    def __init__(self, max_frame_bits: int = _MAX_FRAME_BITS):
        self.max_frame_bits = int(max_frame_bits)
        self._enc = gr_fec.cc_encoder(self.max_frame_bits, K, RATE, POLYS)
        self._dec = gr_fec.cc_decoder(self.max_frame_bits, K, RATE, POLYS)

    @staticmethod
    def coded_len(n_info_bits: int) -> int:
        return RATE * (int(n_info_bits) + K - 1)

    def _check(self, n: int):
        if not 0 < n <= self.max_frame_bits:
            raise ValueError(f"frame of {n} bits outside 1..{self.max_frame_bits}")

    def encode(self, bits: np.ndarray) -> np.ndarray:
        bits = np.ascontiguousarray(bits, dtype=np.uint8)
        self._check(bits.size)
        self._enc.set_frame_size(bits.size)
        out = np.zeros(self._enc.get_output_size(), dtype=np.uint8)
        return gr_fec.work(self._enc, bits, out)

    def decode(self, soft: np.ndarray, n_info_bits: int) -> np.ndarray:
        """Viterbi-decode soft bits (float, positive means 1, nominal amplitude ~1)."""
        n = int(n_info_bits)
        self._check(n)
        soft = np.asarray(soft, dtype=np.float32)
        if soft.size != self.coded_len(n):
            raise ValueError(f"expected {self.coded_len(n)} soft bits, got {soft.size}")
        # gr-fec's cc_decoder takes 8-bit soft symbols, 128 = erasure (its async_decoder
        # does the same 48x scaling).
        u8 = np.ascontiguousarray(np.clip(128.0 + 48.0 * soft, 0, 255).astype(np.uint8))
        self._dec.set_frame_size(n)
        out = np.zeros(self._dec.get_output_size(), dtype=np.uint8)
        return gr_fec.work(self._dec, u8, out)
