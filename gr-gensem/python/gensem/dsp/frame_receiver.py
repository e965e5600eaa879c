"""Receive side of the two-stream OFDM frame (numpy core of ``gensem_two_stream_rx``).

Streaming: ``push(samples)`` returns the frames completed so far. Per frame:
front end (running DC removal, blind IQ-imbalance compensation: ``rx_frontend``) ->
tone-rejecting Schmidl & Cox detection and fractional CFO -> integer CFO and fine timing
jointly, by LTS cross-correlation over every candidate carrier offset -> CFO refinement on
the LTS pair -> averaged, tap-denoised channel estimate -> header (BPSK, repetition,
CRC-16) -> sample-clock drift (pilot phase slope; FFT windows re-timed when the drift
reaches a sample) -> pilot phase tracking (residual CFO + common phase) -> per-stream
equalisation and demapping: stream 0 soft QPSK -> de-interleave -> Viterbi -> CRC-32;
stream 1 hard M-QAM, or, in analog frames, the equalised complex symbols themselves
(with the expected error variance of each frame's symbols). Per-stream SNR estimate (Es/N0 on that stream's subcarriers) from
the channel estimate and the noise measured on the LTS pair and the decoded header.
"""

from __future__ import annotations

import functools
import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from gensem.dsp import aggregation, frame_header, qam, rx_kernels, scrambler
from gensem.dsp.channel_estimation import TAP_THRESHOLD, smooth_channel, tap_basis
from gensem.dsp.conv_code import POLYS, ConvCode, K, branch_table
from gensem.dsp.frame_builder import (
    MAX_DATA_SYMBOLS,
    interleaver,
    n_data_symbols,
    s0_symbols_needed,
    s1_analog_rows,
    s1_symbols_needed,
)
from gensem.dsp.frame_header import FrameHeader
from gensem.dsp.ofdm_params import OfdmParams
from gensem.dsp.ofdm_symbols import (
    lts_freq,
    lts_time,
    ofdm_demodulate,
    pilot_tables,
    pilot_values,
    preamble_len,
)
from gensem.dsp.prompt_packet import parse as parse_prompt
from gensem.dsp.rx_frontend import RxFrontEnd, ToneWhitener

DETECT_THRESHOLD = 0.15  # smoothed tone-rejecting Schmidl & Cox metric (see _detect_span)
DETECT_SMOOTH = 8  # samples
DETECT_STRIDE = 4  # metric evaluated every 4 samples
DETECT_SPAN = 4096  # the longest span the metric is computed over in one call
DETECT_SPAN_MIN = 512  # the first span after a detection: a frame's body is not scanned
LTS_MIN_CORR = 0.12  # normalised LTS correlation a real preamble must exceed
# Carrier offsets the acquisition searches (subcarrier spacings). The STS repeats every
# fft_len/2 samples, so its CFO estimate is ambiguous by 2 spacings; every integer
# hypothesis within this range is tried on the LTS. Beyond it the used band (+-26 of +-32
# bins) would leave the radio's passband: frames there are lost and counted (sync_failures).
MAX_CFO_SUBCARRIERS = 5.5
STS_SEARCH_AFTER = 40  # the STS plateau is searched from 2 STS before the hit to 40 after
DRIFT_NEGLIGIBLE = 1e-3  # rad: a sample-clock drift correction smaller than this is not applied
SFO_FIT_SYMBOLS = 64  # symbols the first drift estimate uses (< 1 sample of drift at 100 ppm)


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
    # aggregated frames: [(offset, packet, crc_ok)] split from s1_payload (dsp.aggregation)
    s1_packets: list | None = None
    s1_delimiter_errors: int = 0

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
    def __init__(
        self,
        params: OfdmParams | None = None,
        code: ConvCode | None = None,
        frontend: bool = True,
        compiled: bool | None = None,
    ):
        """``compiled``: run the per-frame stages as the compiled kernels of ``dsp.rx_kernels``
        (None: when numba is installed and GENSEM_RX_NUMBA is not 0; False: the numpy
        reference path; True: the kernels or a ValueError saying why not)."""
        if compiled and not rx_kernels.AVAILABLE:
            raise ValueError(f"compiled frame receiver unavailable: {rx_kernels.WHY_NOT}")
        self._k = rx_kernels if (rx_kernels.AVAILABLE if compiled is None else compiled) else None
        if self._k is not None:
            warm_up()  # once per process: no compile or cache load on the first frame
        self.p = params or OfdmParams()
        self.code = code or ConvCode()
        self.stats = RxStats()
        self._gains = {}  # header power field -> (g0, g1)
        self._scr_bytes = {}  # payload bytes -> packed scrambler sequence
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
        self._idx_pilot = np.array([used.index(k) for k in p.pilot_carriers], np.int64)
        self._idx_data = np.array([used.index(k) for k in p.data_carriers], np.int64)
        self._idx_s0 = np.array([used.index(k) for k in p.prompt_carriers], np.int64)
        self._idx_s1 = np.array([used.index(k) for k in p.adaptive_carriers], np.int64)
        self._half = p.fft_len // 2
        self._det_lag = p.fft_len  # the detector's lag: the LTS period
        self._sts_len = p.symbol_len
        self._keep = 2 * self._sts_len + 2 * DETECT_SMOOTH  # kept before the search position
        self._lts_off = p.symbol_len + 2 * p.cp_len  # STS start -> LTS1 start
        self._max_frame = preamble_len(p) + (p.n_header_symbols + MAX_DATA_SYMBOLS) * p.symbol_len
        self.frontend = RxFrontEnd(compiled=self._k is not None) if frontend else None
        self.whitener = ToneWhitener(compiled=self._k is not None) if frontend else None
        self._wbuf = np.zeros(0, np.complex64)  # whitened copy of _buf: detection only
        self._beta_marks = deque()  # (absolute index, IQ correction) of every pushed block
        # detection cache: metric computed up to _scan_end, crossings not yet consumed
        self._hits = np.zeros(0, np.int64)
        self._scan_end = 0
        self._span = DETECT_SPAN_MIN
        self._preamble = preamble_len(p)
        # integer-CFO hypotheses: LTS templates shifted by 2m subcarriers (see _synchronise)
        n = np.arange(p.fft_len)
        m_max = int(np.ceil((MAX_CFO_SUBCARRIERS + 1.0) / 2.0))
        self._cfo_steps = 2.0 * np.arange(-m_max, m_max + 1)
        self._lts_shifted = np.conj(
            self._lts_t[:, None] * np.exp(2j * np.pi * np.outer(n, self._cfo_steps) / p.fft_len)
        )
        # pilot positions in subcarriers (for the timing-drift phase slope)
        self._k_pilot = np.asarray(p.pilot_carriers, float)
        self._k_used = np.asarray(p.used_carriers, float)
        self._k_used32 = self._k_used.astype(np.float32)
        if self._k is not None:
            self._init_kernels()

    def _init_kernels(self):
        """Constant tables of the compiled path (dsp.rx_kernels), built once."""
        p = self.p
        n_bits = p.fft_len.bit_length() - 1
        bitrev = np.array([int(format(i, f"0{n_bits}b")[::-1], 2) for i in range(p.fft_len)], np.int64)
        tw = np.exp(-2j * np.pi * np.arange(p.fft_len // 2) / p.fft_len)
        used = np.ascontiguousarray(self._used_bins, np.int64)
        scale = 1.0 / np.sqrt(p.fft_len)
        fft128 = (used, bitrev, tw, scale)
        self._fft64 = (used, bitrev, tw.astype(np.complex64), np.float32(scale))
        pol127, base_pilots = (np.ascontiguousarray(t, np.float64) for t in pilot_tables(p))
        self._polys = np.asarray(POLYS, np.int64)
        # argument tuples of the fused calls (rx_kernels.acquire_header, header_front, payload_decode)
        a, a_h, gram = tap_basis(p)[1:]  # (A, A^H, A^H A), C-contiguous
        self._sync_consts = (self._half, STS_SEARCH_AFTER, self._lts_off, p.fft_len, self._lts_shifted,
                             self._cfo_steps, float(MAX_CFO_SUBCARRIERS), self._lts_energy, float(LTS_MIN_CORR))  # fmt: skip
        self._chan_consts = (p.fft_backoff, fft128, self._lts_used, a, a_h, gram, float(TAP_THRESHOLD))
        self._hdr_consts = (p.n_header_symbols, p.cp_len - p.fft_backoff, p.symbol_len, self._fft64,
                            np.zeros(p.n_header_symbols, np.int64), self._idx_pilot, pol127, base_pilots,
                            self._idx_data, ConvCode.coded_len(frame_header.HEADER_BITS), self._polys, K,
                            branch_table(), np.asarray(frame_header.CRC_SYNDROMES, np.int64))  # fmt: skip
        self._grid_consts = (p.cp_len - p.fft_backoff, p.symbol_len, p.fft_len, self._fft64, self._idx_pilot,
                             self._k_pilot, self._k_used32, pol127, base_pilots, float(self._n_ref),
                             p.n_used_half, SFO_FIT_SYMBOLS, float(DRIFT_NEGLIGIBLE), self._idx_s0, self._idx_s1,
                             self._idx_data)  # fmt: skip
        self._no_bytes = np.zeros(0, np.uint8)

    @property
    def compiled(self) -> bool:
        """True when the per-frame stages run as dsp.rx_kernels' compiled kernels."""
        return self._k is not None

    # ---------------------------------------------------------------- streaming
    def reset(self):
        """Drop buffered samples and any half-decoded frame (after an internal error)."""
        self._base += self._buf.size
        self._buf = np.zeros(0, np.complex64)
        self._wbuf = np.zeros(0, np.complex64)
        self._pos = 0
        self._pending = None
        self._hits = np.zeros(0, np.int64)
        self._scan_end = 0
        self._span = DETECT_SPAN_MIN

    def push(self, samples: np.ndarray) -> list[DecodedFrame]:
        if samples.size:
            samples = np.asarray(samples, np.complex64)
            if self.frontend is not None:
                samples = self.frontend.process(samples)
            # keep one STS before the search position: a detection on the LTS block looks back
            shift = max(self._pos - self._keep, 0)
            if self._pending is not None:
                shift = min(shift, self._pending["cand"])
            if self.frontend is not None:  # the IQ correction these samples got
                self._beta_marks.append((self._base + self._buf.size, self.frontend.beta))
                while len(self._beta_marks) > 1 and self._beta_marks[1][0] <= self._base + shift:
                    self._beta_marks.popleft()  # wholly before the kept buffer: bounded memory
            self._buf = np.concatenate([self._buf[shift:], samples])
            white = self.whitener.process(samples) if self.whitener is not None else samples
            self._wbuf = np.concatenate([self._wbuf[shift:], white])
            self._base += shift
            self._pos -= shift
            self._scan_end = max(self._scan_end - shift, 0)
            self._hits = self._hits[self._hits >= shift] - shift
            if self._pending is not None:
                for key in ("hit", "cand", "t1"):
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
            hit = self._detect(self._pos)
            if hit is None:
                return None
            # the detector fires on the LTS block: the STS lies up to two STS lengths before
            self._pending = {"hit": hit, "cand": max(hit - 2 * self._sts_len, 0)}
            self.stats.detections += 1
        st = self._pending
        if "t1" not in st:
            need = st["hit"] + STS_SEARCH_AFTER + self._lts_off + 48 + 2 * self.p.fft_len + 8
            if buf.size < need:
                return None
            sync = self._acquire_compiled(st) if self._k is not None else self._synchronise(st["cand"], st["hit"])
            if sync is None:
                self.stats.sync_failures += 1
                return self._skip(self._plateau_end(st["hit"]))
            st.update(sync)
        if "hdr" not in st:
            need = st["t1"] + 2 * self.p.fft_len + self.p.n_header_symbols * self.p.symbol_len
            if buf.size < need:
                return None
            hdr = self._decode_header(st)
            if hdr is None:
                self.stats.header_failures += 1
                return self._skip(self._plateau_end(st["hit"]))
            st["hdr"] = hdr
        hdr = st["hdr"]
        n_sym = st["n_sym"]
        end = st["t1"] + 2 * self.p.fft_len + (self.p.n_header_symbols + n_sym) * self.p.symbol_len
        # room for a sample-clock drift of up to 200 ppm over the frame
        if buf.size < end + self._drift_margin(n_sym):
            return None
        frame = self._decode_payload(st)
        # the data symbols (scrambled, proper) teach the IQ estimate
        self._observe(st["t1"] + 2 * self.p.fft_len + self.p.n_header_symbols * self.p.symbol_len, end)
        self.stats.frames += 1
        self._pending = None
        self._pos = end + min(0, st.get("last_shift", 0))  # a slow clock: next frame is early
        return frame

    def _observe(self, lo: int, hi: int):
        """Hand buffer samples [lo, hi) to the front end's IQ estimate, with the correction
        they were pushed with (None of it if the range straddles a refinement)."""
        if self.frontend is None or hi <= lo:
            return
        a, b = self._base + lo, self._base + hi
        covering = [beta for start, beta in self._beta_marks if start < b]  # marks are in order
        n_before = sum(1 for start, _ in self._beta_marks if start <= a)
        if n_before == 0 or any(beta != covering[n_before - 1] for beta in covering[n_before:]):
            return
        old = self.frontend.beta
        self.frontend.observe(self._buf[lo:hi], covering[n_before - 1])
        new = self.frontend.beta
        if new != old:  # refined: re-correct what is buffered beyond hi (not decoded yet)
            k = (new - old) / (1.0 - new * np.conj(old))  # new = (old + k) / (1 + k old*)
            seg = self._buf[hi:]
            self._buf[hi:] = ((seg - np.complex64(k) * np.conj(seg)) / (1.0 + k * np.conj(old))).astype(
                np.complex64
            )
            while self._beta_marks and self._beta_marks[-1][0] >= b:
                self._beta_marks.pop()
            self._beta_marks.append((b, new))

    def _drift_margin(self, n_sym: int) -> int:
        return 1 + int(2e-4 * (self.p.n_header_symbols + n_sym) * self.p.symbol_len)

    def _skip(self, new_pos):
        self._pending = None
        self._pos = max(self._pos, int(new_pos))
        return "skipped"

    def _plateau_end(self, cand: int) -> int:
        """First position after the run of detector crossings that starts at ``cand``
        (at most one preamble on): a rejected candidate is not searched again sample by
        sample, and a real preamble later in the run is still found."""
        run = self._hits[self._hits >= cand]
        gaps = np.flatnonzero(np.diff(run) > DETECT_STRIDE)
        end = int(run[gaps[0]]) if gaps.size else (int(run[-1]) if run.size else cand)
        return min(max(end + 1, cand + 1), cand + preamble_len(self.p))

    # ---------------------------------------------------------------- detection
    def _detect(self, start: int):
        """First index >= start where the smoothed detection metric crosses the
        threshold, or None (the search position moves on). The metric of every sample is
        computed once (cached crossings), in bounded spans: cost linear in samples."""
        buf = self._buf
        lag = self._det_lag
        stop = buf.size - 2 * lag - DETECT_SMOOTH  # last d with full windows
        while True:
            if self._hits.size:
                i = int(self._hits.searchsorted(start))
                if i < self._hits.size:
                    return int(self._hits[i])
            lo = max(self._scan_end, start)
            if stop - lo < 1:
                self._pos = max(self._pos, min(start, max(stop, 0)))
                return None
            hi = min(lo + self._span, stop)
            found = self._detect_span(lo, hi)
            self._hits = np.concatenate([self._hits[self._hits >= start], found])
            self._scan_end = hi
            # after a detection scan short spans: the frame that follows is decoded and
            # skipped (the search resumes at its end), so its body is never scanned; idle
            # input doubles the span back to DETECT_SPAN
            self._span = DETECT_SPAN_MIN if found.size else min(2 * self._span, DETECT_SPAN)
            if not found.size:  # nothing detected: noise, proper; its last preamble length
                # may hold the start of a preamble detected in the next span (improper)
                self._observe(lo, hi - self._preamble)
            if not self._hits.size:
                self._pos = max(self._pos, hi)

    def _detect_span(self, start: int, stop: int) -> np.ndarray:
        """Indices d in [start, stop), on a grid of DETECT_STRIDE, where the smoothed
        metric exceeds the threshold.

        Schmidl & Cox on the LTS block (CP 32 + two 64-sample LTS: period L = fft_len over
        160 samples) with tone rejection: M(d) = rho_L(d)^2 - rho_q(d)^2, with rho_x the
        correlation coefficient |P_x| / sqrt(E E') of two L-sample windows x samples apart
        (the second window fixed at d + L) and q = L/2. The LTS repeats after L but not
        after q (its used carriers alternate in sign at lag L/2: rho_q ~ 0), while DC,
        tones and other slowly varying or constant-envelope inputs correlate at both lags
        alike and give M ~ 0 (the plain metric gives them ~1). Cauchy-Schwarz bounds M to
        [-1, 1], so a burst's edge against silence (where the classic |P|^2 / E_2^2
        explodes) does not fire. On noise E[M] = 0 and rho^2 ~ 1/L: the 64-sample windows
        (the STS's period is only 32) make false alarms rare (each costs an LTS search).
        M is evaluated every DETECT_STRIDE samples from block sums (the plateau is the
        LTS's 32-sample CP; the LTS search that follows spans +-40 samples)."""
        if self._k is not None:
            return self._k.detect_span(
                self._wbuf, start, stop, self._det_lag, DETECT_STRIDE, DETECT_SMOOTH, DETECT_THRESHOLD
            )
        buf = self._wbuf
        h = self._det_lag
        q = h // 2
        s = DETECT_STRIDE
        hb = h // s  # window length in blocks
        n_pts = -(-(stop - start) // s)  # grid points d = start + s * j
        m_pts = n_pts + DETECT_SMOOTH // s - 1  # metric points the smoothing needs
        n_blk = m_pts + 2 * hb - 1  # blocks of s samples from ``start``
        r = buf[start : start + (n_blk + 1) * s + h]
        if r.size < (n_blk + 1) * s + h:  # the caller guarantees full windows up to ``stop``
            r = np.concatenate([r, np.zeros((n_blk + 1) * s + h - r.size, r.dtype)])
        a = r[: n_blk * s]
        ph = _block_sum(np.conj(a[: (n_blk - hb) * s]) * a[h : n_blk * s], s)
        pq = _block_sum(np.conj(a[h - q : (n_blk - hb) * s + h - q]) * a[h : n_blk * s], s)
        e = _block_sum(a.real**2 + a.imag**2, s)
        ph, pq, e = _moving_sum(ph, hb), _moving_sum(pq, hb), _moving_sum(e, hb)
        e2 = e[hb : m_pts + hb]
        m = (ph.real[:m_pts] ** 2 + ph.imag[:m_pts] ** 2) / (e[:m_pts] * e2 + 1e-30)
        qb = (h - q) // s  # P_q's first window starts q samples before the second
        m -= (pq.real[:m_pts] ** 2 + pq.imag[:m_pts] ** 2) / (e[qb : m_pts + qb] * e2 + 1e-30)
        k = DETECT_SMOOTH // s
        ms = _moving_sum(m, k) / k
        return start + s * np.flatnonzero(ms[:n_pts] > DETECT_THRESHOLD)

    def _acquire_compiled(self, st):
        """_synchronise, and when the header is buffered already the channel estimate and
        the header's soft bits too, as one compiled call (rx_kernels.acquire_header)."""
        state, t1, cfo, h, noise_sum, noise_n, y, word, syndrome = self._k.acquire_header(
            self._buf, self._wbuf, st["cand"], st["hit"], self._sync_consts, self._chan_consts, self._hdr_consts,
            self._base,
        )  # fmt: skip
        if state == 0:
            return None
        out = {"t1": int(t1), "cfo": float(cfo)}
        if state == 2:
            out["front"] = (h, noise_sum, noise_n, y, word, syndrome)
        return out

    def _synchronise(self, lo_sts: int, hit: int):
        """STS position and fractional CFO: the lag-fft_len/2 correlation (the STS period,
        less the lag-fft_len/4 one: DC and tones cancel) peaks on the STS plateau, searched in [lo_sts, hit +
        STS_SEARCH_AFTER]; its phase is the CFO modulo 2 spacings. Then integer CFO and
        fine timing jointly: the LTS pair is cross-correlated with the LTS shifted by every
        candidate offset eps_c + 2m (|.| <= MAX_CFO_SUBCARRIERS); the best (offset, delay)
        must reach LTS_MIN_CORR. Then the CFO is refined on the LTS pair (64 apart)."""
        p = self.p  # (the compiled path: _acquire_compiled)
        buf = self._buf
        h = self._half
        # on the whitened samples: a spur would bias the phase
        q = h // 2  # tone rejection as in the detector: the STS repeats after h, not after h/2
        seg = self._wbuf[lo_sts : hit + STS_SEARCH_AFTER + 2 * h].astype(np.complex128)
        p_d = _moving_sum(np.conj(seg[:-h]) * seg[h:], h)
        p_q = _moving_sum(np.conj(seg[h - q : -q]) * seg[h:], h)
        e = _moving_sum(seg.real**2 + seg.imag**2, h)
        n = p_d.size
        e2 = e[h : h + n]
        rho2 = (p_d.real**2 + p_d.imag**2) / (e[:n] * e2 + 1e-30)
        rho2 -= (p_q.real**2 + p_q.imag**2) / (e[q : q + n] * e2 + 1e-30)
        d_pk = int(np.argmax(rho2))
        cand = lo_sts + d_pk  # on the STS plateau: STS start + [0, cp_len]
        eps_c = np.angle(p_d[d_pk]) / np.pi  # subcarriers, modulo 2
        cands = eps_c + self._cfo_steps
        ok = np.abs(cands) <= MAX_CFO_SUBCARRIERS
        # fine timing x integer CFO: LTS cross-correlation against shifted templates
        lo = max(cand + self._lts_off - 40, 0)
        hi = cand + self._lts_off + 48
        n_win = hi - lo
        seg = buf[lo : hi + 2 * p.fft_len]
        w = np.ascontiguousarray(np.lib.stride_tricks.sliding_window_view(seg, p.fft_len))
        # derotate by the fractional part; the template carries the integer part
        frac = np.exp(-2j * np.pi * eps_c * np.arange(p.fft_len) / p.fft_len)
        corr = w @ (self._lts_shifted[:, ok] * frac[:, None]).astype(np.complex64)  # (windows, hyps)
        metric = np.abs(corr[:n_win]) ** 2 + np.abs(corr[p.fft_len : p.fft_len + n_win]) ** 2
        e_win = _moving_sum(seg.real**2 + seg.imag**2, p.fft_len)
        energy = e_win[:n_win] + e_win[p.fft_len : p.fft_len + n_win]
        best_flat = int(np.argmax(metric))
        best, j = divmod(best_flat, metric.shape[1])
        norm = metric[best, j] / (self._lts_energy * energy[best] + 1e-30)
        if norm < LTS_MIN_CORR:
            return None
        eps_c = float(cands[ok][j])
        col = metric[:, j]
        # earliest significant path (multipath: the first tap may not be the strongest)
        early = np.flatnonzero(col[max(best - 8, 0) : best + 1] > 0.5 * col[best])
        best = max(best - 8, 0) + int(early[0])
        t1 = lo + best
        # CFO refinement on the LTS pair (64 samples apart): |residual| < 0.5 spacing
        l1 = buf[t1 : t1 + p.fft_len].astype(np.complex128)
        l2 = buf[t1 + p.fft_len : t1 + 2 * p.fft_len].astype(np.complex128)
        eps_f = np.angle(np.sum(np.conj(l1) * l2) * np.exp(-2j * np.pi * eps_c)) / (2 * np.pi)
        return {"t1": t1, "cfo": float(eps_c + eps_f)}

    # ---------------------------------------------------------------- helpers
    def _windows(self, st, first: int, count: int, shifts=None) -> np.ndarray:
        """FFT windows of ``count`` header/data symbols from symbol ``first`` (0 = first
        header symbol), CFO-corrected, CP removed with the configured back-off;
        ``shifts`` (samples, one per symbol) re-time the windows for sample-clock drift."""
        p = self.p
        start = st["t1"] + 2 * p.fft_len + first * p.symbol_len
        off = p.cp_len - p.fft_backoff
        w = 2 * np.pi * st["cfo"] / p.fft_len
        n0 = start + off + np.arange(count) * p.symbol_len
        if shifts is None:
            x = self._buf[start : start + count * p.symbol_len].reshape(count, p.symbol_len)
            x = x[:, off : off + p.fft_len]
        else:
            n0 = n0 + shifts
            x = self._buf[n0[:, None] + np.arange(p.fft_len)[None, :]]
        # CFO derotation exp(-j w n), n absolute: per-symbol constant times in-symbol ramp
        per_symbol = np.exp(-1j * w * (n0 + self._base)).astype(np.complex64)  # float64 phase: n0 is large
        return ofdm_demodulate(x * (per_symbol[:, None] * self._ramp(w)[None, :]), p)

    def _drift_slope(self, y_used: np.ndarray, h: np.ndarray, sym_index: np.ndarray) -> float:
        """Sample-clock drift as the growth of the pilots' phase slope across the band.

        A window D samples early turns subcarrier k by -2 pi k D / N. Per symbol n the
        slope theta_n (rad per subcarrier) is fitted to the pilots after removing their
        common phase; the drift is linear in time, theta_n = b (n + n_ref) with n_ref the
        distance of symbol 0 from the channel estimate (the LTS pair) in symbols, and b
        is fitted by least squares and shrunk by b^2 / (b^2 + var b) (a noisy slope is
        not applied at low SNR or on short frames). Returns b."""
        p = self.p
        pil = pilot_values(p, sym_index)
        hp = h[self._idx_pilot]
        z = y_used[:, self._idx_pilot] * np.conj(hp * pil)
        c = np.sum(z, axis=1)
        r = np.angle(z * np.conj(c)[:, None])
        wgt = np.abs(hp) ** 2
        k = self._k_pilot
        theta = r @ (k * wgt) / float(np.sum(k * k * wgt))
        t = sym_index + self._n_ref
        tt = float(t @ t)
        b = float(theta @ t) / tt
        if t.size > 2:
            res = theta - b * t
            var_b = float(res @ res) / (t.size - 1) / tt
            b *= b * b / (b * b + var_b + 1e-30)
        return b

    @functools.cached_property
    def _n_ref(self) -> float:
        """Header symbol 0's FFT window minus the mean of the two LTS windows, in symbols."""
        p = self.p
        return (1.5 * p.fft_len + p.cp_len) / p.symbol_len

    def _payload_grid(self, st, n_tot: int):
        """Used-carrier grid of the header and data symbols, with the sample-clock drift
        removed: a first slope from the first SFO_FIT_SYMBOLS symbols; where the drift it
        predicts reaches half a sample the windows are re-timed (whole samples) and the
        fraction is a phase ramp; then a residual slope over the whole frame."""
        p = self.p
        h = st["h"]
        n = np.arange(n_tot)
        n_h = p.n_header_symbols  # the header's windows were computed for its decode
        y = np.concatenate([st["y_header"], self._windows(st, n_h, n_tot - n_h)[:, self._used_bins]])
        n_fit = min(n_tot, SFO_FIT_SYMBOLS)
        b = self._drift_slope(y[:n_fit], h, n[:n_fit])
        drift = -b * (n + self._n_ref) * p.fft_len / (2 * np.pi)  # samples, + = late
        if np.max(np.abs(drift)) >= 0.5:
            shifts = np.rint(drift).astype(np.int64)
            st["last_shift"] = int(shifts[-1])
            y = self._windows(st, 0, n_tot, shifts)[:, self._used_bins]
            frac = drift - shifts
            y = y * _cis(np.float32(2 * np.pi / p.fft_len) * frac.astype(np.float32)[:, None] * self._k_used32)
            b = self._drift_slope(y, h, n)  # the residual, over the whole re-timed frame
        elif n_fit < n_tot:
            b = self._drift_slope(y, h, n)  # the first fit saw only part of the frame
        # the slope's largest correction (band edge, last symbol): below DRIFT_NEGLIGIBLE it
        # is not applied (a phase error of 1e-3 rad is -60 dB of EVM)
        if abs(b) * (n_tot + self._n_ref) * p.n_used_half > DRIFT_NEGLIGIBLE:
            ph = (np.float32(-b) * (n + self._n_ref).astype(np.float32))[:, None] * self._k_used32[None, :]
            y = y * _cis(ph)
        return y

    def _ramp(self, w: float) -> np.ndarray:
        if getattr(self, "_ramp_w", None) != w:
            self._ramp_w = w
            self._ramp_v = np.exp(-1j * w * np.arange(self.p.fft_len)).astype(np.complex64)
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
        phi = _phase_line(z)
        if z.size >= 16:  # follow slow phase noise: smoothed residual
            resid = z * np.exp(-1j * phi)
            sm = np.convolve(resid, np.ones(9))[4 : 4 + z.size]
            phi = phi + np.angle(sm)
        return phi

    # ---------------------------------------------------------------- decoding
    def _decode_header(self, st):
        p = self.p
        if self._k is not None:
            return self._decode_header_compiled(st)
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

    def _decode_header_compiled(self, st):
        """_decode_header as compiled kernels: channel, grid, phase, combined soft bits, the
        Viterbi, the CRC and the decision-directed noise (done by the acquisition's call
        when the header was buffered then; rx_kernels.header_front otherwise)."""
        p, k = self.p, self._k
        front = st.pop("front", None)
        if front is None:  # the header arrived after the acquisition
            front = k.header_front(self._buf, st["t1"], st["cfo"], p.fft_len, self._chan_consts, self._hdr_consts,
                                   self._base)  # fmt: skip
        h, noise_sum, noise_n, y, word, syndrome = front
        st["y_header"] = y
        hdr = FrameHeader.from_word(word, syndrome)
        if hdr is None:
            return None
        n_sym = n_data_symbols(p, hdr)
        if n_sym > MAX_DATA_SYMBOLS:
            return None
        st.update(h=h, noise_var=noise_sum / noise_n, n_sym=n_sym)
        return hdr

    def _decode_payload(self, st) -> DecodedFrame:
        p = self.p
        hdr: FrameHeader = st["hdr"]
        h = st["h"]
        n_h, n_sym = p.n_header_symbols, st["n_sym"]
        noise_var = max(st["noise_var"], 1e-20)
        g0, g1 = self._stream_gains(hdr.power_q)
        y = qam_out = None
        if self._k is not None and n_sym:
            y, (p_s0, p_s1, p_data), qam_out = self._payload_compiled(st, hdr, n_h + n_sym, g1)
        elif self._k is not None:
            p_s0, p_s1, p_data = self._k.stream_powers(h, self._idx_s0, self._idx_s1, self._idx_data)
        else:
            h2 = np.abs(h) ** 2
            p_s0, p_s1 = float(np.mean(h2[self._idx_s0])), float(np.mean(h2[self._idx_s1]))
            p_data = float(np.mean(h2[self._idx_data]))
        snr0 = g0**2 * p_s0 / noise_var
        if hdr.wide:  # stream 1 on every data carrier at unit power
            snr1 = p_data / noise_var
        else:
            snr1 = g1**2 * p_s1 / noise_var
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
        if y is None:
            y = self._payload_grid(st, n_h + n_sym)
            phi = self._phase_track(y, h, np.arange(n_h + n_sym))
            y = y[n_h:] * np.exp(-1j * phi[n_h:]).astype(np.complex64)[:, None]
        if hdr.s0_bytes:
            frame.s0_packet, frame.s0_crc_ok, frame.s0_symbols = self._decode_s0(y, h, hdr, g0)
            if not frame.s0_crc_ok:
                self.stats.s0_crc_failures += 1
        if hdr.analog:
            frame.s1_symbols, frame.s1_noise_var = self._decode_s1_analog(y, h, hdr, g1, noise_var)
        elif hdr.s1_bytes:
            frame.s1_payload, frame.s1_evm_db, frame.s1_symbols = qam_out or self._decode_s1(y, h, hdr, g1)
            if hdr.aggregate:
                agg = aggregation.unpack(frame.s1_payload)
                frame.s1_packets, frame.s1_delimiter_errors = agg.packets, agg.delimiter_errors
        return frame

    def _scrambler_bytes(self, n_bytes: int) -> np.ndarray:
        """The scrambler sequence of an n-byte payload, packed (the compiled QAM decoder
        descrambles a byte at a time); kept per size, 64 sizes at most."""
        v = self._scr_bytes.get(n_bytes)
        if v is None:
            if len(self._scr_bytes) >= 64:
                self._scr_bytes.clear()
            v = self._scr_bytes[n_bytes] = np.packbits(scrambler.sequence(8 * n_bytes))
        return v

    def _stream_gains(self, power_q: int) -> tuple[float, float]:
        """p.stream_gains of a header's power field, kept per value (256 of them at most)."""
        g = self._gains.get(power_q)
        if g is None:
            g = self._gains[power_q] = self.p.stream_gains(power_q / 255.0)
        return g

    def _payload_compiled(self, st, hdr, n_tot: int, g1: float):
        """_payload_grid, _phase_track, the derotation, the SNR inputs and (a QAM frame)
        _decode_s1 as one compiled call (rx_kernels.payload_decode). Returns (data rows,
        (p_s0, p_s1, p_data), (payload, EVM dB, cells) or None)."""
        p = self.p
        qam_rows, idx_q, g, table, n_bytes, scr = 0, self._idx_s1, 0.0, self._qam_consts(16), 0, self._no_bytes
        if not hdr.analog and hdr.s1_bytes and g1 > 0:
            idx_q, g = (self._idx_data, 1.0) if hdr.wide else (self._idx_s1, g1)
            qam_rows = s1_symbols_needed(p, hdr.s1_bytes, hdr.mod, hdr.wide)
            table, n_bytes, scr = self._qam_consts(hdr.mod), hdr.s1_bytes, self._scrambler_bytes(hdr.s1_bytes)
        y, last_shift, p_s0, p_s1, p_data, payload, evm, z = self._k.payload_decode(
            self._buf, st["y_header"], st["t1"], n_tot, st["cfo"], self._base, st["h"], self._grid_consts, qam_rows,
            idx_q, float(g), table, n_bytes, scr,
        )  # fmt: skip
        if last_shift:
            st["last_shift"] = int(last_shift)
        qam_out = None
        if qam_rows:
            n_cells = -(-8 * n_bytes // qam.bits_per_symbol(hdr.mod))  # payload cells, no padding
            qam_out = (payload.tobytes(), _db(evm), z[:n_cells])
        return y, (p_s0, p_s1, p_data), qam_out

    @staticmethod
    @functools.cache
    def _qam_consts(m: int):
        """(half, scale, amp, lvl_to_gray) of qam._tables(m): decode_qam's table argument."""
        _, lvl_to_gray, scale, _, half, _, amp = qam._tables(m)
        return half, scale, amp, lvl_to_gray

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
        idx, g = (self._idx_data, 1.0) if hdr.wide else (self._idx_s1, g1)
        rows = s1_symbols_needed(p, hdr.s1_bytes, hdr.mod, hdr.wide)
        hs = h[idx].astype(np.complex64)
        z = y[:rows, idx] * (1.0 / (hs * np.float32(g)))[None, :]
        z = self._decision_directed_phase(z, hs, hdr.mod).reshape(-1)
        bits, dec = qam.demodulate_hard(z, hdr.mod, return_points=True)
        payload = np.packbits(scrambler.descramble(bits[: 8 * hdr.s1_bytes])).tobytes()
        # EVM against the decided points (a data-aided quality figure for the GUI/planner)
        evm = float(np.mean(np.abs(z - dec) ** 2))
        n_cells = -(-8 * hdr.s1_bytes // qam.bits_per_symbol(hdr.mod))  # payload cells, no padding
        return payload, _db(evm), z[:n_cells]

    @staticmethod
    def _decision_directed_phase(z: np.ndarray, hs: np.ndarray, m: int) -> np.ndarray:
        """Second-pass phase of each data symbol from the decided QAM cells (rows x carriers):
        the 4 pilots leave ~0.035 rad rms of phase noise on a short frame at 14 dB (their
        fitted ramp), the ~48 decisions per symbol far less. Per-row phasor sum z dec*
        weighted by |H|^2, a phase line fitted over the rows (residual CFO) and removed; a
        wrong decision here and there only weighs in a little."""
        if z.shape[0] < 2:
            return z
        dec = qam.decide(z, m)
        w = (hs.real**2 + hs.imag**2).astype(np.float32)
        c = np.sum(z * np.conj(dec) * w[None, :], axis=1)
        return z * np.exp(-1j * _phase_line(c))[:, None].astype(np.complex64)

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


def _cis(phase: np.ndarray) -> np.ndarray:
    """exp(j phase) in single precision (a complex exponential of float32 is ~4x cheaper)."""
    out = np.empty(phase.shape, np.complex64)
    out.real, out.imag = np.cos(phase), np.sin(phase)
    return out


def _phase_line(c: np.ndarray) -> np.ndarray:
    """Phase a + b n of per-symbol phasors c_n: b from the mean symbol-to-symbol rotation,
    then a from the derotated sum (pilot tracking and the decision-directed pass)."""
    n = np.arange(c.size)
    b = np.angle(np.sum(c[1:] * np.conj(c[:-1]))) if c.size > 1 else 0.0
    a = np.angle(np.sum(c * np.exp(-1j * b * n)))
    return a + b * n


def _block_sum(x: np.ndarray, s: int) -> np.ndarray:
    """Sums of consecutive blocks of ``s`` values (strided adds: faster than a reshape-sum)."""
    out = x[::s].copy()
    for i in range(1, s):
        out += x[i::s]
    return out


def _moving_sum(x: np.ndarray, n: int) -> np.ndarray:
    """Sums of ``n`` consecutive values (len(x) - n + 1 of them), in double precision."""
    c = np.cumsum(x, dtype=np.complex128 if np.iscomplexobj(x) else np.float64)
    out = c[n - 1 :].copy()
    out[1:] -= c[:-n]
    return out


def _db(x: float) -> float:
    return 10.0 * math.log10(max(float(x), 1e-30))


_WARM = {"done": False, "seconds": 0.0}


def warm_up() -> float:
    """Compile (or load from numba's cache) every compiled kernel, by decoding frames of
    each kind (a prompt frame, a wide frame, an analog frame) with a spur on the input, so
    the tone whitener's filter runs too. Once per process; the first ``FrameReceiver``
    on the compiled path calls it, so a flowgraph's first frame is not late. A fresh
    install compiles in ~20 s (``make setup`` does it), later processes load the cache
    in ~0.3 s. Returns the seconds the first call took (0 without numba)."""
    import time

    if _WARM["done"] or not rx_kernels.AVAILABLE:
        return _WARM["seconds"]
    _WARM["done"] = True
    from gensem.dsp import prbs, prompt_packet
    from gensem.dsp.frame_builder import build_frame, encode_prompt_packet

    t0 = time.perf_counter()
    p = OfdmParams()
    rx = FrameReceiver(p, compiled=True)
    pk = prompt_packet.build(0, b"warm up")
    frames = [
        build_frame(p, 0, 16, 0.4, encode_prompt_packet(pk, rx.code), len(pk), prbs.payload(0, 0, 64)),
        build_frame(p, 1, 4, 0.0, None, 0, prbs.payload(0, 1, 64)),
        build_frame(p, 2, 16, p.equal_split, None, 0, None, s1_analog=np.exp(2j * np.pi * np.arange(100) / 7)),
    ]
    x = np.concatenate([np.zeros(500, np.complex64)] + frames + [np.zeros(2000, np.complex64)])
    rng = np.random.default_rng(0)
    x = x + 0.01 * (rng.standard_normal(x.size) + 1j * rng.standard_normal(x.size))
    x = (x + 0.3 * np.exp(2j * np.pi * 0.37 * np.arange(x.size))).astype(np.complex64)  # a spur
    for i in range(0, x.size, 4096):
        rx.push(x[i : i + 4096])
    if not rx.whitener.coef.any():  # the filter kernel must have run
        rx.whitener.process(x[:4096])
    _WARM["seconds"] = time.perf_counter() - t0
    return _WARM["seconds"]

