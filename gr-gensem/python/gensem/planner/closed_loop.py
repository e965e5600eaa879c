"""Closed-loop planning (beyond the paper): per-frame SNR reports in, p0/p1/M1 out.

The receiver reports, per decoded frame, the Es/N0 of each sub-channel (``snr0_db``,
``snr1_db``, from the channel estimate and the noise estimate) and the power split the
frame used (``prompt_power``, from its header). Dividing by the per-subcarrier power of
each stream, g_i^2 = f_i N / N_i, gives the average SNR gamma_bar of section III-E
(total power over total bandwidth), smoothed with an exponential average in dB. In dB a
20 dB step down is tracked within ~6 frames (a linear average needs ~16, its old high
values dominate); under Rayleigh block fading the dB average sits 2.5 dB below the mean
of |h|^2 (E[ln X] of an exponential X), a conservative bias we keep: the M-QAM rule of
eq. (4) is an AWGN bound and fading costs more than that (docs/planner.md). The planner's discrete choice
(``lemma1.solve_discrete``) at gamma_bar minus a safety margin gives the next M1 and
power split; M1 = 0 (edge map not sent) puts all the power on the prompt.
"""

from __future__ import annotations

import math

from gensem.planner.lemma1 import MODULATIONS, solve_discrete
from gensem.planner.params import TABLE_I, SystemParams

MIN_POWER_FRACTION = 1.0 / 255.0  # one step of the frame header's power field


class PlanTracker:
    def __init__(
        self,
        v0_bits: float = 1000,
        v1_bits: float = 7880,
        target_ber: float = 1e-5,
        params: SystemParams = TABLE_I,
        n_prompt_carriers: int = 24,
        n_adaptive_carriers: int = 24,
        smoothing: float = 0.3,
        margin_db: float = 1.0,
        modulations=MODULATIONS,
    ):
        if not 0 < smoothing <= 1:
            raise ValueError("smoothing must be in (0, 1]")
        if margin_db < 0:
            raise ValueError("the planning margin must be >= 0 dB")
        self.n0, self.n1 = int(n_prompt_carriers), int(n_adaptive_carriers)
        # the planner's bandwidth ratio is the link's carrier ratio
        self.params = params.with_(B1_hz=params.B0_hz * self.n1 / self.n0)
        self.v0_bits, self.v1_bits, self.target_ber = float(v0_bits), float(v1_bits), float(target_ber)
        solve_discrete(1.0, self.v0_bits, self.v1_bits, self.target_ber, self.params)  # validates
        self.smoothing = float(smoothing)
        self.margin_db = float(margin_db)
        self.modulations = tuple(modulations)
        self.avg_snr = None  # smoothed gamma_bar (linear; smoothed in dB)
        self.plan = None
        self.updates = 0
        self.bad_reports = 0

    def frame_avg_snr(self, snr0_db, snr1_db, prompt_power) -> float | None:
        """gamma_bar seen by one frame, from its per-stream Es/N0 and power split."""
        n = self.n0 + self.n1
        f0 = float(prompt_power)
        est, weight = 0.0, 0
        for snr_db, share, n_i in ((snr0_db, f0, self.n0), (snr1_db, 1.0 - f0, self.n1)):
            g2 = share * n / n_i
            if snr_db is None or not math.isfinite(snr_db) or g2 < 1e-6:
                continue
            est += n_i * 10 ** (snr_db / 10) / g2
            weight += n_i
        return est / weight if weight else None

    def update(self, snr0_db, snr1_db, prompt_power) -> dict | None:
        """Fold in one frame's report; returns the new plan (None if the report was unusable)."""
        g = self.frame_avg_snr(snr0_db, snr1_db, prompt_power)
        if g is None or g <= 0:
            self.bad_reports += 1
            return None
        a = self.smoothing
        if self.avg_snr is None:
            self.avg_snr = g
        else:
            self.avg_snr = 10 ** ((1 - a) * math.log10(self.avg_snr) + a * math.log10(g))
        self.updates += 1
        d = solve_discrete(
            self.avg_snr / 10 ** (self.margin_db / 10),
            self.v0_bits,
            self.v1_bits,
            self.target_ber,
            self.params,
            self.modulations,
        )
        f0 = 1.0 if d["modulation"] == 0 else min(max(d["prompt_power_fraction"], MIN_POWER_FRACTION), 1.0)
        self.plan = {
            "frame_snr_db": 10 * math.log10(g),
            "avg_snr_db": 10 * math.log10(self.avg_snr),
            "modulation": int(d["modulation"]),
            "prompt_power": f0,
            "latency_ms": d["latency_s"] * 1e3,
        }
        return self.plan
