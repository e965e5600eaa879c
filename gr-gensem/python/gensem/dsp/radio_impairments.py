"""What a real SDR does to the samples (numpy core of ``gensem_ofdm_channel``'s radio part).

Two radios with their own crystals and a zero-IF receiver, in physical order::

    TX samples -> carrier offset (LO mismatch) -> sample-clock offset (ADC vs DAC clock)
       -> phase noise (LO jitter) -> [+ AWGN: added by the caller]
       -> IQ imbalance -> DC offset (LO leakage, bias) -> receiver gain -> ADC clipping -> RX

``ImpairmentChain.pre_noise`` applies the first three, ``post_noise`` the last four and
``process`` both with AWGN between. The GNU Radio hier block builds the same chain from
stock blocks (``channels.channel_model`` / ``blocks.rotator_cc``, ``channels.phase_noise_gen``,
``channels.iqbal_gen``, ``blocks.add_const_cc``, ``blocks.multiply_const_cc``, ``analog.rail_ff``);
the QA tests compare the two.

Sign conventions (both offsets are the transmitter's clock relative to the receiver's, so
one crystal error gives equal ``cfo_ppm`` and ``sfo_ppm``):

* ``cfo_ppm`` > 0: the received baseband turns at +cfo_ppm * 1e-6 * center_freq Hz, i.e.
  exp(+j 2 pi f n) like ``cfo_subcarriers`` > 0 (the TX LO is above the RX LO).
* ``sfo_ppm`` > 0: the TX sample clock is fast relative to the RX's (the RX clock is slow):
  RX sample k is taken at TX sample time k * (1 + sfo_ppm * 1e-6), so a frame arrives
  shorter and drifts to earlier sample indices, and a tone at f cycles/sample comes out at
  f * (1 + sfo_ppm * 1e-6). This is exactly GNU Radio's ``channels.channel_model`` with
  ``epsilon = 1 + sfo_ppm * 1e-6`` (measured: epsilon > 1 gives N / epsilon output samples).
  channel_model resamples before it rotates; here the rotation comes first, so with both our
  carrier offset comes out (1 + sfo_ppm * 1e-6) times the block's (2e-5 relative for hackrf).

IQ imbalance is GNU Radio's ``channels.iqbal_gen`` receiver model (mode 1), same signs:
    I' = 10**(iq_amp_db/20) * (I cos(phi) + Q sin(phi)),   Q' = Q,   phi = iq_phase_deg.
Its image rejection ratio is |K2|^2/|K1|^2 = (g^2 - 2 g cos(phi) + 1)/(g^2 + 2 g cos(phi) + 1).

Levels are relative to the mean power of a frame's samples, ``signal_power * n_used/fft_len``
(52/64 for the default ``OfdmParams`` with unit-power subcarriers; ``signal_power`` is the
power per used subcarrier, 1 for the gensem TX, ``scale**2`` for ``gensem radio``'s samples).

Profiles (``PROFILES``; values at 2.45 GHz, 2 Msps, FFT 64 unless overridden):

=======  =======  =======  ======  ==========  ======  =============================================
profile  cfo_ppm  sfo_ppm  DC dB   IQ dB/deg   PN dBc  notes
=======  =======  =======  ======  ==========  ======  =============================================
ideal    0        0        none    0 / 0       none    the old loopback channel
b200     2        2        -50     0.2 / 1     -45.6   cfo 0.157 subcarrier spacings; PN 0.3 deg rms
hackrf   20       20       -25     1 / 5       -30     cfo 1.568 subcarrier spacings; PN 1.8 deg rms
=======  =======  =======  ======  ==========  ======  =============================================

Sources ("assumed" = no published figure found; a plausible value for the part):

* b200 clocks: USRP B200/B210 TCXO, +-2 ppm (Ettus B200/B210 specification, as quoted in
  DESIGN.md s. 3; not re-read here). LO and ADC clock share the reference: cfo_ppm = sfo_ppm.
* b200 DC -50 dB, IQ 0.2 dB / 1 deg: assumed residuals after the AD9361's RX DC-offset and
  quadrature tracking calibrations (AD9361 Reference Manual UG-570, calibration chapter).
* b200 phase noise: 0.3 deg rms, the middle of the 0.2-0.4 deg rms integrated LO phase noise
  of the AD9361 data sheet (synthesizer specifications; the range as quoted in issue 13, the
  table itself not re-read here).
* hackrf clocks: one 25 MHz crystal (X1, Abracon ABM8-25.000MHZ-10-D1G-T, in the HackRF One
  schematic hardware/hackrf-one/baseband.kicad_sch), +-20 ppm (DESIGN.md s. 3); the sample clocks
  and the LOs all derive from it (greatscottgadgets/hackrf issue #1416), hence cfo_ppm = sfo_ppm.
* hackrf DC -25 dB: HackRF has no DC correction (HackRF documentation, FAQ "What is the big spike
  in the center of my received spectrum?"); the level is assumed.
* hackrf IQ 1 dB / 5 deg: assumed for the MAX2837 + MAX5864 zero-IF path (no published figure
  found; the related MAX2831 data sheet quotes 0.1 dB / 0.35 deg, so this is pessimistic).
* hackrf phase noise -30 dBc (1.8 deg rms): assumed.

Phase noise is a single-pole low-pass Gaussian phase (corner ``phase_noise_bw_hz``, like a
PLL loop bandwidth) with stationary variance sigma^2 = 10**(phase_noise_dbc/10) rad^2.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import numpy as np

PROFILE_NAMES = ("ideal", "b200", "hackrf")
MAX_PPM = 1000.0
# total carrier offset (subcarrier spacings) a simulated channel accepts: beyond the
# receiver's +-5.5 frames are lost and counted, beyond this the value is refused
MAX_CHANNEL_CFO_SUBCARRIERS = 16.0
DC_PHASE = math.pi / 4  # the DC phasor's phase (45 deg): equal parts on I and Q


@dataclass(frozen=True)
class RadioImpairments:
    """Receiver-side radio impairments (see the module docstring for models and signs)."""

    cfo_ppm: float = 0.0
    sfo_ppm: float = 0.0
    dc_offset_db: float | None = None
    iq_amp_db: float = 0.0
    iq_phase_deg: float = 0.0
    phase_noise_dbc: float | None = None
    phase_noise_bw_hz: float = 100e3
    level_db: float = 0.0
    clip_percent: float = 0.0
    center_freq: float = 2.45e9
    samp_rate: float = 2e6
    fft_len: int = 64

    # -- derived quantities ---------------------------------------------------------
    def cfo_subcarriers(self) -> float:
        """The carrier offset in subcarrier spacings (samp_rate / fft_len)."""
        return self.cfo_ppm * 1e-6 * self.center_freq / (self.samp_rate / self.fft_len)

    def cfo_cycles_per_sample(self) -> float:
        return self.cfo_ppm * 1e-6 * self.center_freq / self.samp_rate

    def epsilon(self) -> float:
        """TX samples per RX sample: GNU Radio ``channel_model``'s ``epsilon``."""
        return 1.0 + self.sfo_ppm * 1e-6

    def phase_noise_var(self) -> float:
        """Stationary phase variance sigma^2 (rad^2); 0 without phase noise."""
        return 0.0 if self.phase_noise_dbc is None else 10 ** (self.phase_noise_dbc / 10.0)

    def phase_noise_alpha(self) -> float:
        """Single-pole IIR coefficient of the corner: y += alpha * (x - y)."""
        return 1.0 - math.exp(-2 * math.pi * self.phase_noise_bw_hz / self.samp_rate)

    def frame_power(self, signal_power: float = 1.0) -> float:
        """Mean power of a frame's samples: signal_power * n_used / fft_len."""
        from gensem.dsp.ofdm_params import OfdmParams

        return signal_power * 2 * OfdmParams().n_used_half / self.fft_len

    def dc_phasor(self, signal_power: float = 1.0) -> complex:
        if self.dc_offset_db is None:
            return 0j
        amp = math.sqrt(self.frame_power(signal_power) * 10 ** (self.dc_offset_db / 10.0))
        return complex(amp * math.cos(DC_PHASE), amp * math.sin(DC_PHASE))

    def clip_level(self, signal_power: float = 1.0) -> float | None:
        """ADC rail c: a Gaussian rail of the frame's power (after ``level_db``) exceeds it
        on ``clip_percent`` % of samples, P(|I| > c) = erfc(c / (sigma sqrt 2)). None: no clip."""
        if not self.clip_percent:
            return None
        sigma = math.sqrt(self.frame_power(signal_power) * 10 ** (self.level_db / 10.0) / 2.0)
        return sigma * math.sqrt(2.0) * erfcinv(self.clip_percent / 100.0)

    def image_rejection_db(self) -> float:
        """Closed-form image-to-signal power ratio (dB) of the IQ imbalance."""
        g, ph = 10 ** (self.iq_amp_db / 20.0), math.radians(self.iq_phase_deg)
        num = g * g - 2 * g * math.cos(ph) + 1
        den = g * g + 2 * g * math.cos(ph) + 1
        return -math.inf if num <= 0 else 10 * math.log10(num / den)

    @property
    def has_iq(self) -> bool:
        return bool(self.iq_amp_db or self.iq_phase_deg)

    @property
    def is_ideal(self) -> bool:
        return not (
            self.cfo_ppm
            or self.sfo_ppm
            or self.dc_offset_db is not None
            or self.has_iq
            or self.phase_noise_dbc is not None
            or self.level_db
            or self.clip_percent
        )

    def as_dict(self) -> dict:
        return asdict(self)

    def channel_kwargs(self) -> dict:
        """The radio arguments of ``gensem_ofdm_channel`` (every field but fft_len, which the
        channel block takes on its own)."""
        kw = self.as_dict()
        kw.pop("fft_len")
        return kw

    def describe(self) -> str:
        """One line naming the active impairments (``ideal`` when none)."""
        parts = []
        if self.cfo_ppm:
            parts.append(f"CFO {self.cfo_ppm:g} ppm ({self.cfo_subcarriers():.3g} subcarriers)")
        if self.sfo_ppm:
            parts.append(f"SFO {self.sfo_ppm:g} ppm")
        if self.phase_noise_dbc is not None:
            rms = math.degrees(math.sqrt(self.phase_noise_var()))
            parts.append(f"phase noise {self.phase_noise_dbc:g} dBc ({rms:.2g} deg rms)")
        if self.has_iq:
            parts.append(f"IQ {self.iq_amp_db:g} dB / {self.iq_phase_deg:g} deg")
        if self.dc_offset_db is not None:
            parts.append(f"DC {self.dc_offset_db:g} dB")
        if self.level_db:
            parts.append(f"gain {self.level_db:g} dB")
        if self.clip_percent:
            parts.append(f"clipping {self.clip_percent:g} %")
        if not parts:
            return "ideal"
        return ", ".join(parts) + f" at {self.center_freq / 1e9:g} GHz, {self.samp_rate / 1e6:g} Msps"

    def replace(self, **kw) -> RadioImpairments:
        return replace(self, **kw)

    def validate(self) -> RadioImpairments:
        """ValueError with a one-line fix for an impossible value; returns self."""
        checks = [
            (self.samp_rate > 0, f"--samp-rate must be > 0 Hz, got {self.samp_rate:g}"),
            (self.center_freq > 0, f"--center-freq must be > 0 Hz, got {self.center_freq:g}"),
            (abs(self.cfo_ppm) <= MAX_PPM, f"--cfo-ppm {self.cfo_ppm:g} must be within +-1000 ppm"),
            (abs(self.sfo_ppm) <= MAX_PPM, f"--sfo-ppm {self.sfo_ppm:g} must be within +-1000 ppm"),
            (
                abs(self.iq_amp_db) <= 10,
                f"--iq-imbalance amplitude {self.iq_amp_db:g} dB must be within +-10 dB",
            ),
            (
                abs(self.iq_phase_deg) <= 45,
                f"--iq-imbalance phase {self.iq_phase_deg:g} deg must be within +-45 deg",
            ),
            (
                self.phase_noise_dbc is None or self.phase_noise_dbc <= -10,
                f"--phase-noise-dbc {self.phase_noise_dbc} must be <= -10 dBc (integrated phase noise)",
            ),
            (
                self.phase_noise_dbc is None or 0 < self.phase_noise_bw_hz < self.samp_rate / 2,
                f"--phase-noise-bw-hz {self.phase_noise_bw_hz:g} must be in (0, samp_rate/2) Hz",
            ),
            (0 <= self.clip_percent <= 20, f"--clip-percent {self.clip_percent:g} must be in [0, 20] %"),
            (abs(self.level_db) <= 80, f"--level-db {self.level_db:g} must be within +-80 dB"),
            (
                self.dc_offset_db is None or -200 < self.dc_offset_db <= 20,
                f"--dc-offset-db {self.dc_offset_db} must be in (-200, 20] dB",
            ),
            (int(self.fft_len) == self.fft_len and self.fft_len >= 16, "fft_len must be an integer >= 16"),
        ]
        vals = [
            self.cfo_ppm,
            self.sfo_ppm,
            self.iq_amp_db,
            self.iq_phase_deg,
            self.level_db,
            self.clip_percent,
        ]
        if not all(math.isfinite(float(v)) for v in vals):
            raise ValueError("radio impairments must be finite numbers")
        for ok, msg in checks:
            if not ok:
                raise ValueError(msg)
        return self


PROFILES = {
    "ideal": RadioImpairments(),
    # USRP B200/B210: TCXO +-2 ppm; AD9361 with RX DC and quadrature calibration
    "b200": RadioImpairments(
        cfo_ppm=2.0, sfo_ppm=2.0, dc_offset_db=-50.0, iq_amp_db=0.2, iq_phase_deg=1.0, phase_noise_dbc=-45.6
    ),
    # HackRF One: 25 MHz crystal +-20 ppm for LOs and ADC clock; no DC correction; zero-IF
    "hackrf": RadioImpairments(
        cfo_ppm=20.0, sfo_ppm=20.0, dc_offset_db=-25.0, iq_amp_db=1.0, iq_phase_deg=5.0, phase_noise_dbc=-30.0
    ),
}


def from_profile(name: str | None, **overrides) -> RadioImpairments:
    """The profile ``name`` (None = ideal) with the given fields replaced."""
    key = "ideal" if name is None else str(name).lower()
    if key not in PROFILES:
        raise ValueError(f"unknown radio profile {name!r}; choose ideal, b200 or hackrf")
    return replace(PROFILES[key], **overrides)


def erfcinv(p: float) -> float:
    """x with erfc(x) = p, 0 < p < 2 (bisection on math.erfc; numpy-only module)."""
    if not 0 < p < 2:
        raise ValueError("erfcinv needs 0 < p < 2")
    lo, hi = -10.0, 10.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if math.erfc(mid) > p:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def iq_imbalance(x: np.ndarray, amp_db: float, phase_deg: float) -> np.ndarray:
    """GNU Radio ``channels.iqbal_gen`` receiver mode: I' = g (I cos + Q sin), Q' = Q."""
    g, ph = 10 ** (amp_db / 20.0), math.radians(phase_deg)
    i, q = x.real, x.imag
    return (g * (i * math.cos(ph) + q * math.sin(ph)) + 1j * q).astype(np.complex64)


class _Resampler:
    """Streaming fractional resampler: output k = input at time k * ratio (input samples).

    Windowed-sinc (Kaiser, 2 * ``half`` taps) with the fractional phase quantised to
    1/``phases`` sample: better than -60 dB for a signal within +-0.41 cycles/sample
    (52 of 64 subcarriers). Output k is time-aligned with input time k * ratio (no group
    delay); the last ``half`` input samples wait for the next call.
    """

    def __init__(self, ratio: float, half: int = 16, phases: int = 4096, beta: float = 6.0):
        if not 0.5 < ratio < 2.0:
            raise ValueError("resampling ratio must be in (0.5, 2)")
        self.ratio, self.half, self.phases = float(ratio), int(half), int(phases)
        n = np.arange(-self.half + 1, self.half + 1)  # tap offsets from floor(t)
        mu = np.arange(self.phases + 1) / self.phases  # fractional part of t
        d = n[None, :] - mu[:, None]
        win = np.i0(beta * np.sqrt(np.clip(1 - (d / self.half) ** 2, 0, None))) / np.i0(beta)
        self.table = (np.sinc(d) * win).astype(np.float64)  # (phases + 1, 2 * half)
        self.buf = np.zeros(self.half - 1, np.complex128)  # history before input sample 0
        self.t = float(self.half - 1)  # time of the next output in buf coordinates

    def __call__(self, x: np.ndarray) -> np.ndarray:
        buf = np.concatenate([self.buf, np.asarray(x, np.complex128)])
        last = buf.size - 1 - self.half  # the latest floor(t) whose window is complete
        if last < math.floor(self.t):
            self.buf = buf
            return np.zeros(0, np.complex64)
        k = math.floor((last - self.t) / self.ratio) + 1
        t = self.t + self.ratio * np.arange(k)
        base = np.floor(t).astype(np.int64)
        while k and base[-1] > last:  # float rounding at the edge
            k -= 1
            t, base = t[:k], base[:k]
        ph = np.rint((t - base) * self.phases).astype(np.int64)
        idx = base[:, None] + np.arange(-self.half + 1, self.half + 1)[None, :]
        y = np.einsum("ij,ij->i", buf[idx], self.table[ph])
        t_next = self.t + self.ratio * k
        drop = max(0, math.floor(t_next) - self.half + 1)
        self.buf = buf[drop:]
        self.t = t_next - drop
        return y.astype(np.complex64)


class ImpairmentChain:
    """Streaming ``RadioImpairments``: state (carrier phase, resampler, phase-noise filter)
    is kept between calls; complex64 out. ``seed`` fixes the phase noise and the AWGN."""

    def __init__(self, imp: RadioImpairments, signal_power: float = 1.0, seed: int = 0):
        self.imp = imp.validate()
        self.signal_power = float(signal_power)
        self._cps = imp.cfo_cycles_per_sample()
        self._phase = 0.0  # carrier phase of the next sample, in cycles
        self._resampler = _Resampler(imp.epsilon()) if imp.sfo_ppm else None
        self._pn_var = imp.phase_noise_var()
        self._alpha = imp.phase_noise_alpha()
        self._pn_rng = np.random.default_rng([seed, 2])
        self._noise_rng = np.random.default_rng([seed, 3])
        # start the phase-noise filter in its stationary state
        self._pn_state = float(self._pn_rng.normal(0.0, math.sqrt(self._pn_var))) if self._pn_var else 0.0
        self._dc = imp.dc_phasor(self.signal_power)
        self._gain = 10 ** (imp.level_db / 20.0)
        self._clip = imp.clip_level(self.signal_power)

    def phase_noise(self, n: int) -> np.ndarray:
        """The next ``n`` samples of the phase process (rad): y[k] = (1-a) y[k-1] + a w[k],
        w ~ N(0, sigma^2 (2-a)/a), so var(y) = sigma^2."""
        a, r = self._alpha, 1.0 - self._alpha
        w = self._pn_rng.normal(0.0, math.sqrt(self._pn_var * (2 - a) / a), n)
        out = np.empty(n)
        step = max(1, int(300.0 / max(-math.log(r), 1e-12)))  # r**-step stays finite
        y0 = self._pn_state
        for s in range(0, n, step):
            seg = w[s : s + step]
            m = np.arange(seg.size)
            rp = r**m
            acc = np.cumsum(seg * r ** (-m))  # sum_k r^(-k) w[k]
            out[s : s + seg.size] = r * rp * y0 + a * rp * acc
            y0 = out[s + seg.size - 1]
        if n:
            self._pn_state = float(out[-1])
        return out

    def pre_noise(self, x: np.ndarray) -> np.ndarray:
        """Carrier offset, sample-clock offset, phase noise (before the AWGN)."""
        y = np.asarray(x, np.complex64)
        if self._cps:
            n = np.arange(y.size)
            y = y * np.exp(2j * np.pi * (self._phase + self._cps * n))
            self._phase = (self._phase + self._cps * y.size) % 1.0
        if self._resampler is not None:
            y = self._resampler(y)
        if self._pn_var:
            y = y * np.exp(1j * self.phase_noise(y.size))
        return y.astype(np.complex64)

    def post_noise(self, y: np.ndarray) -> np.ndarray:
        """IQ imbalance, DC offset, receiver gain, ADC clipping (after the AWGN)."""
        imp = self.imp
        y = np.asarray(y, np.complex64)
        if imp.has_iq:
            y = iq_imbalance(y, imp.iq_amp_db, imp.iq_phase_deg)
        if self._dc:
            y = y + np.complex64(self._dc)
        if self._gain != 1.0:
            y = y * np.float32(self._gain)
        if self._clip is not None:
            c = self._clip
            y = np.clip(y.real, -c, c) + 1j * np.clip(y.imag, -c, c)
        return y.astype(np.complex64)

    def process(self, x: np.ndarray, noise_var: float = 0.0, rng=None) -> np.ndarray:
        """pre_noise, complex AWGN of variance ``noise_var`` per sample, post_noise."""
        y = self.pre_noise(x)
        if noise_var > 0:
            rng = self._noise_rng if rng is None else rng
            w = rng.standard_normal(2 * y.size).view(np.complex128) * math.sqrt(noise_var / 2.0)
            y = (y + w).astype(np.complex64)
        return self.post_noise(y)
