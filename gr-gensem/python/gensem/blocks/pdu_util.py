"""PMT conventions shared by the blocks: PDUs are pmt.cons(meta dict, u8vector), or
pmt.cons(meta dict, c32vector) for analog stream-1 symbols; every frame start carries the
``gensem_frame`` stream tag."""

from __future__ import annotations

import logging

import numpy as np
import pmt

log = logging.getLogger("gensem")

FRAME_TAG = pmt.intern("gensem_frame")


def subscribed_ports(block, ports) -> dict:
    """{port: has subscribers}. Ask once the flowgraph runs (connections are fixed then):
    blocks skip building messages nobody receives."""
    return {port: pmt.length(block.message_subscribers(pmt.intern(port))) > 0 for port in ports}


def make_pdu(meta, data: bytes = b"") -> pmt.pmt_t:
    """PDU of ``meta`` (a dict, or a pmt dict built once and shared: converting a dict
    costs ~25 us) and ``data`` (from a list: 2.4x faster than from a numpy array)."""
    data = bytes(data)
    vec = pmt.init_u8vector(len(data), list(data))
    return pmt.cons(meta if isinstance(meta, pmt.pmt_base) else pmt.to_pmt(meta), vec)


def pdu_fields(msg, keys) -> tuple[dict, bytes]:
    """({key: value} for the ``keys`` present, payload bytes) of a u8vector PDU, without
    converting the whole metadata dict (a sink that needs a few fields: ~5x faster than
    :func:`parse_pdu`). Raises ValueError like it."""
    if not pmt.is_pair(msg) or not pmt.is_u8vector(pmt.cdr(msg)):
        raise ValueError("message is not a PDU (pmt pair of metadata and u8vector)")
    car = pmt.car(msg)
    out = {}
    if pmt.is_dict(car):
        for key in keys:
            v = pmt.dict_ref(car, pmt.intern(key), pmt.PMT_NIL)
            if not pmt.is_null(v):
                out[key] = pmt.to_python(v)
    return out, bytes(pmt.u8vector_elements(pmt.cdr(msg)))


def parse_pdu(msg) -> tuple[dict, bytes]:
    """(meta, payload bytes). Raises ValueError with a one-line reason on malformed PDUs."""
    if not pmt.is_pair(msg):
        raise ValueError("message is not a PDU (pmt pair of metadata and u8vector)")
    car, cdr = pmt.car(msg), pmt.cdr(msg)
    meta = pmt.to_python(car) if pmt.is_dict(car) else {}
    if meta is None:
        meta = {}
    if not pmt.is_u8vector(cdr):
        raise ValueError("PDU payload is not a u8vector")
    return dict(meta), bytes(pmt.u8vector_elements(cdr))


def parse_dict(msg) -> dict:
    if pmt.is_pair(msg) and pmt.is_dict(pmt.car(msg)):
        msg = pmt.car(msg)
    if not pmt.is_dict(msg):
        raise ValueError("message is not a pmt dict")
    return dict(pmt.to_python(msg) or {})


def make_c32_pdu(meta: dict, symbols: np.ndarray) -> pmt.pmt_t:
    sym = np.ascontiguousarray(symbols, dtype=np.complex64).reshape(-1)
    return pmt.cons(pmt.to_pmt(meta), pmt.init_c32vector(sym.size, sym))


def parse_c32_pdu(msg) -> tuple[dict, np.ndarray] | None:
    """(meta, complex64 symbols) of a c32vector PDU; None when the payload is not a c32vector."""
    if not pmt.is_pair(msg) or not pmt.is_c32vector(pmt.cdr(msg)):
        return None
    car = pmt.car(msg)
    meta = (pmt.to_python(car) if pmt.is_dict(car) else None) or {}
    return dict(meta), np.asarray(pmt.c32vector_elements(pmt.cdr(msg)), dtype=np.complex64)
