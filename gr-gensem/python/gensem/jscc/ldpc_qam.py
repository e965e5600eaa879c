"""LDPC + Gray M-QAM over AWGN, with GNU Radio's gr-fec LDPC encoder and decoder.

The gr-fec kernels (``fec.ldpc_encoder_make`` / ``fec.ldpc_decoder.make``, the alist
matrices shipped in ``/usr/share/gnuradio/fec/ldpc``) are called synchronously through
``generic_work`` (:mod:`gensem.dsp.gr_fec`, the one module that imports gr-fec).

LLR convention (checked by a known-answer test): GNU Radio 3.10.5's ``ldpc_decoder`` takes
soft values x with x > 0 meaning bit 1 and forms the likelihood ratio exp(x / (2 sigma^2));
we build it with sigma = 1/sqrt(2), so x is exactly the LLR log P(1|y)/P(0|y) that
:func:`gensem.dsp.qam.soft_demap` returns.
"""

from __future__ import annotations

import json
import math
import os
import time
from functools import lru_cache
from pathlib import Path

import numpy as np

from gensem.dsp import gr_fec, qam

LDPC_DIR = Path("/usr/share/gnuradio/fec/ldpc")
MODULATIONS = (4, 16, 64)
TARGET_BLER = 1e-3  # per block; an image of B blocks arrives whole with ~(1 - BLER)^B
_SIGMA = 1.0 / math.sqrt(2.0)  # makes the decoder's input an LLR (see module doc)
# The decoder works with exp(LLR); at |LLR| <= 30 it made block errors on clean 64-QAM at 20 dB
# (2 of 25 blocks, PNB2 code), at 8..20 none, and the clip changed nothing at low SNR (measured).
_LLR_CLIP = 16.0
CACHE_FILE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "gensem" / "ldpc_select.json"


def available_codes() -> list[str]:
    """Parity-check (H) alist files GNU Radio ships (generator-matrix files left out)."""
    return sorted(p.name for p in LDPC_DIR.iterdir() if p.is_file() and "g_matrix" not in p.name)


@lru_cache(maxsize=None)
def code_size(alist: str) -> tuple[int, int]:
    """(k, n) of an alist code, from gr-fec's encoder."""
    enc = gr_fec.ldpc_encoder(_resolve(alist))
    return enc.get_input_size(), enc.get_output_size()


def _resolve(alist: str | os.PathLike) -> Path:
    path = Path(alist)
    if not path.is_file() and (LDPC_DIR / path).is_file():
        path = LDPC_DIR / path
    if not path.is_file():
        raise ValueError(f"no alist file {alist!r}; GNU Radio's are in {LDPC_DIR}")
    return path


class LdpcQamLink:
    """One LDPC code (alist) with Gray M-QAM over AWGN; SNR = Es/N0, unit symbol energy."""

    def __init__(self, alist_path: str | os.PathLike, M: int, max_iter: int = 50):
        self.path = _resolve(alist_path)
        self.M = qam.check_m(M)
        self._enc = gr_fec.ldpc_encoder(self.path)
        self._dec = gr_fec.ldpc_decoder(self.path, _SIGMA, max_iter)
        self.k = self._enc.get_input_size()
        self.n = self._enc.get_output_size()
        self.rate = self.k / self.n
        self.bits_per_symbol = qam.bits_per_symbol(self.M)
        self.info_bits_per_symbol = self.rate * self.bits_per_symbol

    def __repr__(self):
        return f"LdpcQamLink({self.path.name!r}, M={self.M}, rate={self.rate:.3f})"

    def n_symbols(self, n_blocks: int) -> int:
        """Channel uses taken by ``n_blocks`` code blocks (the last symbol zero-padded)."""
        return math.ceil(n_blocks * self.n / self.bits_per_symbol)

    def max_info_bits(self, n_symbols: int) -> int:
        """Most payload bits, in whole code blocks, that fit ``n_symbols`` channel uses."""
        return (int(n_symbols) * self.bits_per_symbol // self.n) * self.k

    def encode(self, bits: np.ndarray) -> np.ndarray:
        """Code ``bits`` (zero-padded to whole blocks) -> concatenated codewords."""
        bits = np.asarray(bits, dtype=np.uint8).reshape(-1)
        n_blocks = max(1, math.ceil(bits.size / self.k))
        info = np.zeros(n_blocks * self.k, dtype=np.uint8)
        info[: bits.size] = bits
        coded = np.empty(n_blocks * self.n, dtype=np.uint8)
        for b in range(n_blocks):
            block = np.ascontiguousarray(info[b * self.k : (b + 1) * self.k])  # keep alive: the
            out = np.zeros(self.n, dtype=np.uint8)  # capsules hold bare pointers
            gr_fec.work(self._enc, block, out)
            coded[b * self.n : (b + 1) * self.n] = out
        return coded

    def decode(self, llr: np.ndarray) -> np.ndarray:
        """Decode concatenated codeword LLRs (positive -> 1) -> info bits of every block."""
        llr = np.clip(np.asarray(llr, dtype=np.float32).reshape(-1, self.n), -_LLR_CLIP, _LLR_CLIP)
        out = np.empty((llr.shape[0], self.k), dtype=np.uint8)
        for b in range(llr.shape[0]):
            block = np.ascontiguousarray(llr[b])
            res = np.zeros(self.k, dtype=np.uint8)
            gr_fec.work(self._dec, block, res)
            out[b] = res
        return out.reshape(-1)

    def transmit(self, bits: np.ndarray, snr_db: float, rng: np.random.Generator):
        """Encode, modulate, add AWGN at Es/N0 = ``snr_db``, demap exactly, decode.

        Returns ``(decoded_bits, n_block_errors, n_blocks)``; decoded_bits has ``bits``' length.
        The receiver's wall time (demap + decode) is left in ``last_receive_s``.
        """
        bits = np.asarray(bits, dtype=np.uint8).reshape(-1)
        if not np.isfinite(snr_db):
            raise ValueError(f"SNR {snr_db!r} dB is not finite")
        coded = self.encode(bits)
        n_blocks = coded.size // self.n
        pad = (-coded.size) % self.bits_per_symbol
        sym = qam.modulate(np.concatenate([coded, np.zeros(pad, np.uint8)]), self.M)
        n0 = 10.0 ** (-snr_db / 10.0)
        noise = rng.normal(size=sym.size) + 1j * rng.normal(size=sym.size)
        rx = sym + math.sqrt(n0 / 2.0) * noise
        t0 = time.perf_counter()
        decoded = self.decode(qam.soft_demap(rx, self.M, n0)[: coded.size])
        self.last_receive_s = time.perf_counter() - t0  # demap + decode wall time
        sent = np.zeros(n_blocks * self.k, dtype=np.uint8)
        sent[: bits.size] = bits
        block_err = np.any((decoded != sent).reshape(n_blocks, self.k), axis=1)
        return decoded[: bits.size], int(block_err.sum()), n_blocks


def measure_bler(link: LdpcQamLink, snr_db: float, n_blocks: int, seed: int = 0, max_errors=None):
    """Monte-Carlo block error rate; stops early once errors exceed ``max_errors``."""
    rng = np.random.default_rng(seed)
    errors = done = 0
    while done < n_blocks and (max_errors is None or errors <= max_errors):
        chunk = min(25, n_blocks - done)
        bits = rng.integers(0, 2, chunk * link.k, dtype=np.uint8)
        errors += link.transmit(bits, snr_db, rng)[1]
        done += chunk
    return errors / done, errors, done


def _load_disk_cache() -> dict:
    try:
        return json.loads(CACHE_FILE.read_text())
    except (OSError, ValueError):
        return {}


@lru_cache(maxsize=64)
def select_link(
    snr_db: float,
    n_blocks: int = 1000,
    seed: int = 0,
    disk_cache: bool = True,
    target_bler: float = TARGET_BLER,
) -> dict:
    """The (GNU Radio alist code, M in {4, 16, 64}) with the most information bits per
    channel use whose measured BLER at ``snr_db`` is <= ``target_bler`` over ``n_blocks`` blocks.

    Candidates are tried from the highest rate down (skipping those above log2(1 + SNR)).
    If none meets the target, the most robust one is returned with ``meets_target`` False.
    Results are cached in memory and, with ``disk_cache``, in ``CACHE_FILE`` keyed by SNR.
    """
    snr_db = float(snr_db)
    if not np.isfinite(snr_db):
        raise ValueError(f"SNR {snr_db!r} dB is not finite")
    key = f"{snr_db:.3f}dB/{n_blocks}/{seed}/{target_bler:g}"
    cache = _load_disk_cache() if disk_cache else {}
    if key in cache:
        return cache[key]
    capacity = math.log2(1.0 + 10.0 ** (snr_db / 10.0))
    cands = []
    for code in available_codes():
        k, n = code_size(code)
        cands += [(k / n * qam.bits_per_symbol(m), n, code, m) for m in MODULATIONS]
    cands.sort(reverse=True)
    max_errors = int(target_bler * n_blocks)
    result = None
    for ibps, _, code, m in cands:
        if ibps >= capacity:
            continue
        bler, errors, done = measure_bler(LdpcQamLink(code, m), snr_db, n_blocks, seed, max_errors)
        if done == n_blocks and errors <= max_errors:
            result = dict(
                code=code, M=m, info_bits_per_symbol=ibps, bler=bler, blocks=done, meets_target=True
            )
            break
    if result is None:  # nothing reliable: send the most robust configuration anyway
        ibps, _, code, m = cands[-1]
        bler, _, done = measure_bler(LdpcQamLink(code, m), snr_db, min(n_blocks, 50), seed)
        result = dict(code=code, M=m, info_bits_per_symbol=ibps, bler=bler, blocks=done, meets_target=False)
    if disk_cache:
        cache = _load_disk_cache()
        cache[key] = result
        try:
            CACHE_FILE.parent.mkdir(parents=True, exist_ok=True)
            CACHE_FILE.write_text(json.dumps(cache, indent=1, sort_keys=True))
        except OSError:
            pass
    return result
