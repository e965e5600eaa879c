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


def branch_table() -> np.ndarray:
    """The code bits of every encoder register (the last K input bits, newest in bit 0, as
    gr-fec's encoder shifts them): bit j of entry r = parity(r & POLYS[j]). The compiled
    header decoder's trellis (rx_kernels.viterbi_k7)."""
    return np.array([sum(((r & poly).bit_count() & 1) << j for j, poly in enumerate(POLYS)) for r in range(1 << K)],
                    np.int64)  # fmt: skip


class ConvCode:
    """Terminated K=7 r=1/2 convolutional code. Not thread-safe: one per block."""

    def __init__(self, max_frame_bits: int = _MAX_FRAME_BITS):
        self.max_frame_bits = int(max_frame_bits)
        self._enc = gr_fec.cc_encoder(self.max_frame_bits, K, RATE, POLYS)
        self._dec = gr_fec.cc_decoder(self.max_frame_bits, K, RATE, POLYS)
        self._dec_n = None  # the decoder's frame size as last set
        self._bufs = {}  # (kind, n) -> (in, out, in capsule, out capsule): reused per frame size

    def _buffers(self, kind: str, n: int, n_in: int, n_out: int):
        """uint8 work buffers for one frame size, wrapped once (a PyCapsule costs ~3 us, the
        Viterbi kernel of a 64-bit header ~1.5 us). At most 32 sizes are kept."""
        b = self._bufs.get((kind, n))
        if b is None:
            if len(self._bufs) >= 32:
                self._bufs.clear()
            inp, out = np.zeros(n_in, np.uint8), np.zeros(n_out, np.uint8)
            b = self._bufs[(kind, n)] = (inp, out, gr_fec._capsule(inp), gr_fec._capsule(out))
        return b

    @staticmethod
    def coded_len(n_info_bits: int) -> int:
        return RATE * (int(n_info_bits) + K - 1)

    def _check(self, n: int):
        if not 0 < n <= self.max_frame_bits:
            raise ValueError(f"frame of {n} bits outside 1..{self.max_frame_bits}")

    def encode(self, bits: np.ndarray) -> np.ndarray:
        bits = np.asarray(bits, dtype=np.uint8).reshape(-1)
        n = bits.size
        self._check(n)
        self._enc.set_frame_size(n)
        inp, out, c_in, c_out = self._buffers("enc", n, n, self._enc.get_output_size())
        inp[:] = bits
        self._enc.generic_work(c_in, c_out)
        return out.copy()

    def decode(self, soft: np.ndarray, n_info_bits: int) -> np.ndarray:
        """Viterbi-decode soft bits (float, positive means 1, nominal amplitude ~1)."""
        n = int(n_info_bits)
        self._check(n)
        soft = np.asarray(soft, dtype=np.float32)
        if soft.size != self.coded_len(n):
            raise ValueError(f"expected {self.coded_len(n)} soft bits, got {soft.size}")
        # gr-fec's cc_decoder takes 8-bit soft symbols, 128 = erasure (its async_decoder
        # does the same 48x scaling); astype truncates.
        return self.decode_quantized(np.clip(128.0 + 48.0 * soft, 0, 255).astype(np.uint8), n)

    def decode_quantized(self, u8: np.ndarray, n_info_bits: int) -> np.ndarray:
        """Viterbi-decode soft bits already quantised as gr-fec takes them (uint8,
        128 + 48 x soft, clipped): ``decode``'s second half, and the reference the
        compiled header decoder (rx_kernels.viterbi_k7) is tested against."""
        n = int(n_info_bits)
        self._check(n)
        if u8.size != self.coded_len(n):
            raise ValueError(f"expected {self.coded_len(n)} soft bits, got {u8.size}")
        if self._dec_n != n:  # a pybind call each: only when the frame size changes
            self._dec.set_frame_size(n)
            self._dec_n = n
        b = self._bufs.get(("dec", n))
        buf, out, c_in, c_out = b if b is not None else self._buffers("dec", n, u8.size, self._dec.get_output_size())
        buf[:] = u8
        self._dec.generic_work(c_in, c_out)
        return out.copy()
