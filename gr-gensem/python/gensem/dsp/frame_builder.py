"""Transmit side of the two-stream OFDM frame (numpy core of ``gensem_two_stream_tx``).

Stream 0 (B0): prompt packet -> scrambler -> K=7 r=1/2 conv code -> interleaver -> QPSK,
scaled by g0. Stream 1 (B1): payload -> scrambler -> Gray M-QAM, scaled by g1. The power
split f0 : 1-f0 sets (g0, g1) as in ``OfdmParams.stream_gains`` (the paper's p0, p1).
Analog mode (``s1_analog``): stream 1 carries complex symbols as they are (CDM-JSCC's
unit-power channel symbols), scaled by g1 like QAM symbols, row by row over B1; the
header is marked analog (``frame_header``) and its s1 field counts symbols.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from gensem.dsp import frame_header, qam, scrambler
from gensem.dsp.conv_code import ConvCode
from gensem.dsp.frame_header import FrameHeader
from gensem.dsp.ofdm_params import OfdmParams
from gensem.dsp.ofdm_symbols import ofdm_modulate, pilot_values, preamble

MAX_DATA_SYMBOLS = 4096


@lru_cache(maxsize=64)
def interleaver(n: int) -> np.ndarray:
    """Fixed pseudo-random permutation of ``n`` coded bits (spreads bursts over B0)."""
    return np.random.default_rng(n + 0x1EAF).permutation(n)


@lru_cache(maxsize=1)
def _default_code() -> ConvCode:
    return ConvCode()


def s0_symbols_needed(p: OfdmParams, s0_bytes: int) -> int:
    if s0_bytes == 0:
        return 0
    coded = ConvCode.coded_len(8 * s0_bytes)
    return -(-coded // (2 * p.n_prompt_carriers))


def s1_symbols_needed(p: OfdmParams, s1_bytes: int, m: int, wide: bool = False) -> int:
    if s1_bytes == 0:
        return 0
    bits = 8 * s1_bytes
    per_sym = qam.bits_per_symbol(m) * (p.n_data if wide else p.n_adaptive_carriers)
    return -(-bits // per_sym)


def s1_carriers(p: OfdmParams, hdr: FrameHeader) -> np.ndarray:
    """Subcarriers of stream 1 in this frame: B1, or every data carrier in a wide frame."""
    return p.data_carriers if hdr.wide else p.adaptive_carriers


def s1_analog_rows(p: OfdmParams, n_symbols: int) -> int:
    """OFDM symbols needed for ``n_symbols`` analog cells on B1."""
    return -(-n_symbols // p.n_adaptive_carriers)


def n_data_symbols(p: OfdmParams, hdr: FrameHeader) -> int:
    if hdr.analog:
        s1 = s1_analog_rows(p, hdr.s1_bytes)
    else:
        s1 = s1_symbols_needed(p, hdr.s1_bytes, hdr.mod, hdr.wide)
    return max(s0_symbols_needed(p, hdr.s0_bytes), s1)


def encode_prompt_packet(packet: bytes, code: ConvCode) -> np.ndarray:
    """Scramble, encode and interleave one stream-0 packet -> coded bits."""
    bits = scrambler.scramble(np.unpackbits(np.frombuffer(packet, np.uint8)))
    coded = code.encode(bits)
    return coded[interleaver(coded.size)]


def build_frame(
    p: OfdmParams,
    seq: int,
    mod: int,
    prompt_power_fraction: float,
    s0_coded: np.ndarray | None = None,
    s0_bytes: int = 0,
    s1_payload: bytes | None = None,
    code: ConvCode | None = None,
    s1_analog: np.ndarray | None = None,
    analog_first: bool = True,
    analog_last: bool = True,
    aggregate: bool = False,
) -> np.ndarray:
    """One complete frame of complex baseband samples, gap of zeros included.

    With ``s1_analog`` (1..8191 complex symbols) the frame is an analog frame: ``mod`` and
    ``s1_payload`` are ignored and the flags mark the frame's place in its message.
    With ``aggregate`` the header marks ``s1_payload`` as packed subframes (``dsp.aggregation``).
    """
    code = code or _default_code()
    s1_payload = s1_payload or b""
    analog = s1_analog is not None
    if analog:
        s1_analog = np.asarray(s1_analog, dtype=np.complex128).reshape(-1)
        if not 0 < s1_analog.size <= frame_header.MAX_S1_SYMBOLS:
            raise ValueError(
                f"analog frame of {s1_analog.size} symbols outside 1..{frame_header.MAX_S1_SYMBOLS}"
            )
        if not np.all(np.isfinite(s1_analog)):
            raise ValueError("analog symbols must be finite (no NaN or inf)")
        s1_payload = b""
    else:
        qam.check_m(mod)
    hdr = FrameHeader(
        seq=seq & 0xFFFF,
        mod=frame_header.ANALOG_MOD if analog else mod,
        power_q=frame_header.quantize_power(prompt_power_fraction),
        s0_bytes=s0_bytes if s0_coded is not None else 0,
        s1_bytes=s1_analog.size if analog else len(s1_payload),
        analog=analog,
        first=analog and bool(analog_first),
        last=analog and bool(analog_last),
        aggregate=bool(aggregate) and not analog,
    )
    g0, g1 = p.stream_gains(hdr.prompt_power_fraction)
    n_sym = n_data_symbols(p, hdr)
    if n_sym > MAX_DATA_SYMBOLS:
        raise ValueError(f"frame needs {n_sym} OFDM symbols, over {MAX_DATA_SYMBOLS}")
    n_h = p.n_header_symbols
    grid = np.zeros((n_h + n_sym, p.fft_len), dtype=complex)
    # pilots on every header and data symbol
    grid[:, p.bins(p.pilot_carriers)] = pilot_values(p, np.arange(n_h + n_sym))
    data_bins = p.bins(p.data_carriers)
    hbits = frame_header.encode(hdr, n_h * p.n_data, code)
    grid[:n_h, data_bins] = 2.0 * hbits.reshape(n_h, p.n_data) - 1.0
    if hdr.s0_bytes:
        n0 = p.n_prompt_carriers
        cells = s0_symbols_needed(p, hdr.s0_bytes) * n0
        sym = np.zeros(cells, complex)
        q = qam.modulate(np.asarray(s0_coded, np.uint8), 4)
        sym[: q.size] = q
        grid[n_h : n_h + cells // n0, p.bins(p.prompt_carriers)] = g0 * sym.reshape(-1, n0)
    if analog:
        n1 = p.n_adaptive_carriers
        rows = s1_analog_rows(p, hdr.s1_bytes)
        cells = np.zeros(rows * n1, complex)
        cells[: s1_analog.size] = s1_analog
        grid[n_h : n_h + rows, p.bins(p.adaptive_carriers)] = g1 * cells.reshape(rows, n1)
    elif hdr.s1_bytes:
        carriers = s1_carriers(p, hdr)
        n1 = carriers.size
        g = 1.0 if hdr.wide else g1  # wide: unit power on every data carrier
        k = qam.bits_per_symbol(mod)
        rows = s1_symbols_needed(p, hdr.s1_bytes, mod, hdr.wide)
        # the padding is scrambled too: constant padding cells on mirrored carriers would make
        # the signal improper and bias the receiver's blind IQ-imbalance estimate
        padded = np.zeros(rows * n1 * k, dtype=np.uint8)
        padded[: 8 * len(s1_payload)] = np.unpackbits(np.frombuffer(s1_payload, np.uint8))
        padded = scrambler.scramble(padded)
        grid[n_h : n_h + rows, p.bins(carriers)] = g * qam.modulate(padded, mod).reshape(rows, n1)
    body = ofdm_modulate(grid, p)
    return np.concatenate([preamble(p), body, np.zeros(p.frame_gap, np.complex64)])
