"""Receive side of the two-stream OFDM frame (numpy core of ``gensem_two_stream_rx``).

Streaming: ``push(samples)`` returns the frames completed so far. Per frame:
Schmidl & Cox detection and coarse CFO -> fine timing by LTS cross-correlation -> CFO
refinement on the LTS pair -> averaged, tap-denoised channel estimate -> header (BPSK,
repetition, CRC-16) -> pilot phase tracking (residual CFO + common phase) -> per-stream
equalisation and demapping: stream 0 soft QPSK -> de-interleave -> Viterbi -> CRC-32;
stream 1 hard M-QAM, or, in analog frames, the equalised complex symbols themselves
(with the expected error variance of each frame's symbols). Per-stream SNR estimate (Es/N0 on that stream's subcarriers) from
the channel estimate and the noise measured on the LTS pair and the decoded header.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import frame_header, qam, scrambler
from .channel_estimation import smooth_channel
from .conv_code import ConvCode
from .frame_builder import (
    MAX_DATA_SYMBOLS,
    interleaver,
    n_data_symbols,
    s0_symbols_needed,
    s1_analog_rows,
    s1_symbols_needed,
)
from .frame_header import FrameHeader
from .ofdm_params import OfdmParams
from .ofdm_symbols import lts_freq, lts_time, ofdm_demodulate, pilot_values, preamble_len
from .prompt_packet import parse as parse_prompt

DETECT_THRESHOLD = 0.22  # smoothed Schmidl & Cox metric
DETECT_SMOOTH = 8
DETECT_SPAN = 4096
LTS_MIN_CORR = 0.08  # normalised LTS correlation a real preamble must exceed


@dataclass
class DecodedFrame:
    seq: int
    mod: int
    prompt_power_fraction: float
    sample_index: int
    n_symbols: int
    cfo_subcarriers: float
    noise_var: float
    snr_db: tuple
    s0_packet: bytes | None = None
    s0_crc_ok: bool = False
    s1_payload: bytes | None = None
    s1_evm_db: float | None = None
    s0_symbols: np.ndarray | None = None  # equalised stream-0 QPSK cells (constellation displays)
    s1_symbols: np.ndarray | None = None  # equalised stream-1 M-QAM cells (analog: the symbols)
    analog: bool = False  # stream 1 carried analog symbols (s1_payload is then None)
    analog_first: bool = False
    analog_last: bool = False
    s1_noise_var: float | None = None  # analog: expected error variance of s1_symbols

    @property
    def prompt(self):
        """(seq, payload) of a CRC-clean prompt packet, else None."""
        return parse_prompt(self.s0_packet) if self.s0_crc_ok and self.s0_packet else None


@dataclass
class RxStats:
    detections: int = 0
    sync_failures: int = 0
    header_failures: int = 0
    frames: int = 0
    s0_crc_failures: int = 0


class FrameReceiver:
    def __init__(self, params: OfdmParams | None = None, code: ConvCode | None = None):
        self.p = params or OfdmParams()
        self.code = code or ConvCode()
        self.stats = RxStats()
        self._buf = np.zeros(0, np.complex64)
        self._base = 0  # absolute sample index of _buf[0]
        self._pos = 0  # search position within _buf
        self._pending = None  # (cand) waiting for more samples
        p = self.p
        self._lts_t = lts_time(p).astype(np.complex128)
        self._lts_energy = float(np.sum(np.abs(self._lts_t) ** 2))
        self._used_bins = p.bins(p.used_carriers)
        self._lts_used = lts_freq(p)[self._used_bins]
        self._pilot_bins = p.bins(p.pilot_carriers)
        self._data_bins = p.bins(p.data_carriers)
        self._s0_bins = p.bins(p.prompt_carriers)
        self._s1_bins = p.bins(p.adaptive_carriers)
        # positions inside ``used`` order
        used = list(p.used_carriers)
        self._idx_pilot = np.array([used.index(k) for k in p.pilot_carriers])
        self._idx_data = np.array([used.index(k) for k in p.data_carriers])
        self._idx_s0 = np.array([used.index(k) for k in p.prompt_carriers])
        self._idx_s1 = np.array([used.index(k) for k in p.adaptive_carriers])
        self._half = p.fft_len // 2
        self._sts_len = p.symbol_len
        self._lts_off = p.symbol_len + 2 * p.cp_len  # STS start -> LTS1 start
        self._max_frame = preamble_len(p) + (p.n_header_symbols + MAX_DATA_SYMBOLS) * p.symbol_len

    # ---------------------------------------------------------------- streaming
    def reset(self):
        """Drop buffered samples and any half-decoded frame (after an internal error)."""
        self._base += self._buf.size
        self._buf = np.zeros(0, np.complex64)
        self._pos = 0
        self._pending = None

    def push(self, samples: np.ndarray) -> list[DecodedFrame]:
        if samples.size:
            shift = self._pos
            self._buf = np.concatenate([self._buf[shift:], samples.astype(np.complex64)])
            self._base += shift
            self._pos = 0
            if self._pending is not None:
                for key in ("cand", "t1"):
                    if key in self._pending:
                        self._pending[key] -= shift
        out = []
        while True:
            res = self._step()
            if res is None:
                break
            if isinstance(res, DecodedFrame):
                out.append(res)
        return out

    def _step(self):
        """One detection/decoding attempt. None = need more samples."""
        buf = self._buf
        if self._pending is None:
            cand = self._detect(self._pos)
            if cand is None:
                return None
            self._pending = {"cand": cand}
            self.stats.detections += 1
        st = self._pending
        if "t1" not in st:
            need = st["cand"] + self._lts_off + 48 + 2 * self.p.fft_len + 8
            if buf.size < need:
                return None
            sync = self._synchronise(st["cand"])
            if sync is None:
                self.stats.sync_failures += 1
                return self._skip(st["cand"] + self._half)
            st.update(sync)
        if "hdr" not in st:
            need = st["t1"] + 2 * self.p.fft_len + self.p.n_header_symbols * self.p.symbol_len
            if buf.size < need:
                return None
            hdr = self._decode_header(st)
            if hdr is None:
                self.stats.header_failures += 1
                return self._skip(st["cand"] + self._half)
            st["hdr"] = hdr
        hdr = st["hdr"]
        n_sym = st["n_sym"]
        end = st["t1"] + 2 * self.p.fft_len + (self.p.n_header_symbols + n_sym) * self.p.symbol_len
        if buf.size < end:
            return None
        frame = self._decode_payload(st)
        self.stats.frames += 1
        self._pending = None
        self._pos = end
        return frame

    def _skip(self, new_pos):
        self._pending = None
        self._pos = max(self._pos, int(new_pos))
        return "skipped"

    # ---------------------------------------------------------------- detection
    def _detect(self, start: int):
        """First index >= start where the smoothed Schmidl & Cox metric crosses the
        threshold, or None (and the search position moves on)."""
        buf = self._buf
        h = self._half
        stop = buf.size - 2 * h - DETECT_SMOOTH  # last d with full windows
        if stop - start < 1:
            return None
        while stop - start > DETECT_SPAN:  # search in bounded spans: cost linear in samples
            hit = self._detect_span(start, start + DETECT_SPAN)
            if hit is not None:
                return hit
            start += DETECT_SPAN - 2 * h
        return self._detect_span(start, stop)

    def _detect_span(self, start: int, stop: int):
        buf = self._buf
        h = self._half
        r = buf[start : stop + 2 * h + DETECT_SMOOTH].astype(np.complex128)
        prod = np.conj(r[:-h]) * r[h:]
        cp = np.concatenate(([0], np.cumsum(prod)))
        pwr = np.abs(r[h:]) ** 2
        ce = np.concatenate(([0], np.cumsum(pwr)))
        p_d = cp[h:] - cp[:-h]
        r_d = ce[h:] - ce[:-h]
        m = np.abs(p_d) ** 2 / (r_d**2 + 1e-30)
        cm = np.concatenate(([0], np.cumsum(m)))
        ms = (cm[DETECT_SMOOTH:] - cm[:-DETECT_SMOOTH]) / DETECT_SMOOTH
        hits = np.flatnonzero(ms > DETECT_THRESHOLD)
        if hits.size == 0:
            self._pos = max(start, stop - 2 * h)
            return None
        return start + int(hits[0])

    def _synchronise(self, cand: int):
        p = self.p
        buf = self._buf
        h = self._half
        # coarse CFO: the S&C correlation, taken at the best plateau point
        seg = buf[cand : cand + self._sts_len + h].astype(np.complex128)
        prod = np.conj(seg[:-h]) * seg[h:]
        c = np.concatenate(([0], np.cumsum(prod)))
        p_d = c[h:] - c[:-h]
        d_pk = int(np.argmax(np.abs(p_d[: p.cp_len + 16])))
        eps_c = np.angle(p_d[d_pk]) / np.pi  # subcarriers; |eps| < 1
        # fine timing: LTS cross-correlation (both symbols), after coarse derotation
        lo = cand + self._lts_off - 40
        hi = cand + self._lts_off + 48
        lo = max(lo, 0)
        n_win = hi - lo
        seg = buf[lo : hi + 2 * p.fft_len].astype(np.complex128)
        n = np.arange(seg.size)
        seg = seg * np.exp(-2j * np.pi * eps_c * (n + lo) / p.fft_len)
        w = np.lib.stride_tricks.sliding_window_view(seg, p.fft_len)
        corr = w @ np.conj(self._lts_t)
        metric = np.abs(corr[:n_win]) ** 2 + np.abs(corr[p.fft_len : p.fft_len + n_win]) ** 2
        energy = np.sum(np.abs(w[:n_win]) ** 2, axis=1) + np.sum(
            np.abs(w[p.fft_len : p.fft_len + n_win]) ** 2, axis=1
        )
        norm = metric / (self._lts_energy * energy + 1e-30)
        best = int(np.argmax(metric))
        if norm[best] < LTS_MIN_CORR:
            return None
        # earliest significant path (multipath: the first tap may not be the strongest)
        early = np.flatnonzero(metric[max(best - 8, 0) : best + 1] > 0.5 * metric[best])
        best = max(best - 8, 0) + int(early[0])
        t1 = lo + best
        # CFO refinement on the LTS pair (64 samples apart)
        l1 = buf[t1 : t1 + p.fft_len].astype(np.complex128)
        l2 = buf[t1 + p.fft_len : t1 + 2 * p.fft_len].astype(np.complex128)
        nn = np.arange(p.fft_len)
        rot = np.exp(-2j * np.pi * eps_c * (nn + t1) / p.fft_len)
        eps_f = np.angle(np.sum(np.conj(l1 * rot) * (l2 * rot * np.exp(-2j * np.pi * eps_c)))) / (2 * np.pi)
        return {"t1": t1, "cfo": float(eps_c + eps_f)}

    # ---------------------------------------------------------------- helpers
    def _windows(self, st, first: int, count: int) -> np.ndarray:
        """FFT windows of ``count`` header/data symbols from symbol ``first`` (0 = first
        header symbol), CFO-corrected, CP removed with the configured back-off."""
        p = self.p
        start = st["t1"] + 2 * p.fft_len + first * p.symbol_len
        off = p.cp_len - p.fft_backoff
        x = self._buf[start : start + count * p.symbol_len].reshape(count, p.symbol_len)
        x = x[:, off : off + p.fft_len]
        # CFO derotation exp(-j w n), n absolute: per-symbol constant times in-symbol ramp
        w = 2 * np.pi * st["cfo"] / p.fft_len
        n0 = start + self._base + off + np.arange(count) * p.symbol_len
        rot = np.exp(-1j * w * n0)[:, None] * self._ramp(w)[None, :]
        return ofdm_demodulate(x * rot.astype(np.complex64), p)

    def _ramp(self, w: float) -> np.ndarray:
        if getattr(self, "_ramp_w", None) != w:
            self._ramp_w = w
            self._ramp_v = np.exp(-1j * w * np.arange(self.p.fft_len))
        return self._ramp_v

    def _channel(self, st):
        p = self.p
        t1 = st["t1"] - p.fft_backoff
        idx = t1 + np.arange(2)[:, None] * p.fft_len + np.arange(p.fft_len)[None, :]
        x = self._buf[idx].astype(np.complex128)
        x *= np.exp(-2j * np.pi * st["cfo"] * (idx + self._base) / p.fft_len)
        y = ofdm_demodulate(x, p)[:, self._used_bins] / self._lts_used[None, :]
        h_ls = y.mean(axis=0)
        diff = y[0] - y[1]
        noise_sum = float(np.sum(np.abs(diff) ** 2) / 2.0)
        noise_var = noise_sum / diff.size
        h = smooth_channel(h_ls, noise_var / 2.0, p)
        return h, noise_sum, diff.size

    def _phase_track(self, y_used: np.ndarray, h: np.ndarray, sym_index: np.ndarray):
        """Per-symbol phase: residual CFO ramp + common phase, fitted to the pilots."""
        pil = pilot_values(self.p, sym_index)
        z = np.sum(y_used[:, self._idx_pilot] * np.conj(h[self._idx_pilot] * pil), axis=1)
        n = np.arange(z.size)
        if z.size > 1:
            b = np.angle(np.sum(z[1:] * np.conj(z[:-1])))
        else:
            b = 0.0
        a = np.angle(np.sum(z * np.exp(-1j * b * n)))
        phi = a + b * n
        if z.size >= 16:  # follow slow phase noise: smoothed residual
            resid = z * np.exp(-1j * phi)
            sm = np.convolve(resid, np.ones(9))[4 : 4 + z.size]
            phi = phi + np.angle(sm)
        return phi

    # ---------------------------------------------------------------- decoding
    def _decode_header(self, st):
        p = self.p
        h, noise_sum, noise_n = self._channel(st)
        n_h = p.n_header_symbols
        y = self._windows(st, 0, n_h)[:, self._used_bins]
        st["y_header"] = y
        phi = self._phase_track(y, h, np.arange(n_h))
        y = y * np.exp(-1j * phi)[:, None]
        hd = h[self._idx_data]
        soft = np.real(y[:, self._idx_data] * np.conj(hd)[None, :])
        hdr = frame_header.decode(soft.reshape(-1), self.code)
        if hdr is None:
            return None
        n_sym = n_data_symbols(p, hdr)
        if n_sym > MAX_DATA_SYMBOLS:
            return None
        # decision-directed noise on the header: the decoded bits are known now
        bits = frame_header.encode(hdr, n_h * p.n_data, self.code).reshape(n_h, p.n_data)
        resid = y[:, self._idx_data] - hd[None, :] * (2.0 * bits - 1.0)
        noise_sum += float(np.sum(np.abs(resid) ** 2))
        noise_n += resid.size
        st.update(h=h, noise_var=noise_sum / noise_n, n_sym=n_sym)
        return hdr

    def _decode_payload(self, st) -> DecodedFrame:
        p = self.p
        hdr: FrameHeader = st["hdr"]
        h = st["h"]
        n_h, n_sym = p.n_header_symbols, st["n_sym"]
        noise_var = max(st["noise_var"], 1e-20)
        g0, g1 = p.stream_gains(hdr.prompt_power_fraction)
        h2 = np.abs(h) ** 2
        snr0 = g0**2 * float(np.mean(h2[self._idx_s0])) / noise_var
        snr1 = g1**2 * float(np.mean(h2[self._idx_s1])) / noise_var
        frame = DecodedFrame(
            seq=hdr.seq,
            mod=hdr.mod,
            prompt_power_fraction=hdr.prompt_power_fraction,
            sample_index=self._base + st["t1"] - self._lts_off,
            n_symbols=n_sym,
            cfo_subcarriers=st["cfo"],
            noise_var=noise_var,
            snr_db=(_db(snr0), _db(snr1)),
            analog=hdr.analog,
            analog_first=hdr.first,
            analog_last=hdr.last,
        )
        if n_sym == 0:
            return frame
        y = np.concatenate([st["y_header"], self._windows(st, n_h, n_sym)[:, self._used_bins]])
        phi = self._phase_track(y, h, np.arange(n_h + n_sym))
        y = y[n_h:] * np.exp(-1j * phi[n_h:])[:, None]
        if hdr.s0_bytes:
            frame.s0_packet, frame.s0_crc_ok, frame.s0_symbols = self._decode_s0(y, h, hdr, g0)
            if not frame.s0_crc_ok:
                self.stats.s0_crc_failures += 1
        if hdr.analog:
            frame.s1_symbols, frame.s1_noise_var = self._decode_s1_analog(y, h, hdr, g1, noise_var)
        elif hdr.s1_bytes:
            frame.s1_payload, frame.s1_evm_db, frame.s1_symbols = self._decode_s1(y, h, hdr, g1)
        return frame

    def _decode_s0(self, y, h, hdr, g0):
        p = self.p
        if g0 <= 0:
            return None, False, None
        rows = s0_symbols_needed(p, hdr.s0_bytes)
        hs = h[self._idx_s0]
        z = y[:rows, self._idx_s0] / (hs[None, :] * g0)
        rel = np.abs(hs) ** 2 / np.mean(np.abs(hs) ** 2)
        soft = qam.qpsk_soft(z, rel[None, :])
        n_info = 8 * hdr.s0_bytes
        n_coded = ConvCode.coded_len(n_info)
        soft = soft[:n_coded]
        deint = np.empty_like(soft)
        deint[interleaver(n_coded)] = soft
        bits = self.code.decode(deint, n_info)
        packet = np.packbits(scrambler.descramble(bits)).tobytes()
        return packet, parse_prompt(packet) is not None, z.reshape(-1)[: ConvCode.coded_len(n_info) // 2]

    def _decode_s1(self, y, h, hdr, g1):
        p = self.p
        if g1 <= 0:
            return bytes(hdr.s1_bytes), None, None
        rows = s1_symbols_needed(p, hdr.s1_bytes, hdr.mod)
        hs = h[self._idx_s1]
        z = (y[:rows, self._idx_s1] / (hs[None, :] * g1)).reshape(-1)
        bits, dec = qam.demodulate_hard(z, hdr.mod, return_points=True)
        payload = np.packbits(scrambler.descramble(bits[: 8 * hdr.s1_bytes])).tobytes()
        # EVM against the decided points (a data-aided quality figure for the GUI/planner)
        evm = float(np.mean(np.abs(z - dec) ** 2))
        n_cells = -(-8 * hdr.s1_bytes // qam.bits_per_symbol(hdr.mod))  # payload cells, no padding
        return payload, _db(evm), z[:n_cells]

    def _decode_s1_analog(self, y, h, hdr, g1, noise_var):
        """Equalised analog symbols (zero-forcing, the same estimate as for QAM) and their
        expected error variance, mean over B1 of sigma^2 / (g1^2 |H_k|^2)."""
        n = hdr.s1_bytes
        if g1 <= 0:  # stream 1 sent at zero power: nothing to recover
            return np.zeros(n, np.complex64), float("inf")
        rows = s1_analog_rows(self.p, n)
        hs = h[self._idx_s1]
        z = (y[:rows, self._idx_s1] / (hs[None, :] * g1)).reshape(-1)[:n]
        var = float(np.mean(noise_var / (g1**2 * np.abs(hs) ** 2)))
        return z.astype(np.complex64), var


def _db(x: float) -> float:
    return float(10 * np.log10(max(x, 1e-30)))
