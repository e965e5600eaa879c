"""The one door to GNU Radio's gr-fec kernels (nothing else in gensem imports ``gnuradio.fec``).

gr-fec exposes its C++ coders to Python with ``generic_work(capsule, capsule)``; ``work``
hands them numpy buffers wrapped in PyCapsules, so the same, well-tested code that
``fec.async_encoder`` / ``async_decoder`` run is used synchronously, without a flowgraph.
Users: :mod:`gensem.dsp.conv_code` (K=7 r=1/2 convolutional code, Viterbi) and
:mod:`gensem.jscc.ldpc_qam` (LDPC with the alist matrices GNU Radio ships).
"""

from __future__ import annotations

import ctypes

import numpy as np
from gnuradio import fec

CC_TERMINATED = fec.CC_TERMINATED

_PyCapsule_New = ctypes.pythonapi.PyCapsule_New
_PyCapsule_New.restype = ctypes.py_object
_PyCapsule_New.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]


def _capsule(buf: np.ndarray):
    if not buf.flags["C_CONTIGUOUS"]:
        raise ValueError("buffer must be contiguous")
    return _PyCapsule_New(buf.ctypes.data, None, None)


def work(kernel, inp: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Run one gr-fec coder over ``inp`` into ``out`` (both C-contiguous); returns ``out``."""
    kernel.generic_work(_capsule(inp), _capsule(out))
    return out


def cc_encoder(max_frame_bits: int, k: int, rate: int, polys, mode=CC_TERMINATED):
    return fec.cc_encoder_make(int(max_frame_bits), k, rate, list(polys), 0, mode, False)


def cc_decoder(max_frame_bits: int, k: int, rate: int, polys, mode=CC_TERMINATED, end_state: int = 0):
    """Viterbi decoder from start state 0. A terminated code ends in state 0 too: with
    end_state -1 gr-fec traces back from the best-metric state instead, ignoring the tail,
    and the last bits of a block come out ~10x as often wrong (test_crc_fec)."""
    return fec.cc_decoder.make(int(max_frame_bits), k, rate, list(polys), 0, end_state, mode, False)


def ldpc_encoder(alist_path: str):
    return fec.ldpc_encoder_make(str(alist_path))


def ldpc_decoder(alist_path: str, sigma: float, max_iter: int):
    return fec.ldpc_decoder.make(str(alist_path), float(sigma), int(max_iter))
