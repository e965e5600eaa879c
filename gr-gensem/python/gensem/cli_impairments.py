"""The radio-impairment options every command with a simulated channel shares.

``add_impairment_args(parser)`` adds ``--radio-profile {ideal,b200,hackrf}`` and the options
that override the profile's values (``--cfo-ppm``, ``--sfo-ppm``, ``--dc-offset-db``,
``--iq-imbalance DB,DEG``, ``--phase-noise-dbc``, ``--phase-noise-bw-hz``, ``--level-db``,
``--clip-percent``, and ``--center-freq`` / ``--samp-rate`` where the command has none);
``impairments_from_args(args, command)`` builds the validated ``RadioImpairments``, or
raises ``cli.UserError`` (one line on stderr, exit status 2). Used by ``gensem link``,
``gensem sweep``, ``gensem record`` and ``gensem radio rx --sim-snr-db``.
"""

from __future__ import annotations

import argparse

from .dsp.radio_impairments import MAX_CHANNEL_CFO_SUBCARRIERS, PROFILE_NAMES, RadioImpairments, from_profile

# the plain float options (argparse dest = RadioImpairments field)
_FLOAT_FIELDS = ("cfo_ppm", "sfo_ppm", "phase_noise_bw_hz", "level_db", "clip_percent")


def _float_or_none(text: str):
    """A float, or ``none`` to switch the impairment off."""
    if text.strip().lower() == "none":
        return "none"
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'none', got {text!r}") from None


def _iq_pair(text: str) -> tuple[float, float]:
    try:
        db, deg = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected DB,DEG (e.g. 1,5), got {text!r}") from None
    return db, deg


def add_impairment_args(p, rate_args: bool = True) -> None:
    """Add the radio options to parser ``p`` (in their own group); ``rate_args`` False when the
    command already has its own sample-rate and centre-frequency options."""
    g = p.add_argument_group("radio impairments of the simulated channel (options override the profile)")
    g.add_argument(
        "--radio-profile",
        metavar="{" + ",".join(PROFILE_NAMES) + "}",
        default=None,
        help="impairments of a real radio pair: ideal (default), b200 (USRP B200/B210) or hackrf",
    )
    g.add_argument("--cfo-ppm", type=float, help="carrier offset, ppm of the centre frequency (+-1000)")
    g.add_argument(
        "--sfo-ppm", type=float, help="sample-clock offset, ppm: TX clock relative to RX clock (+-1000)"
    )
    g.add_argument(
        "--dc-offset-db",
        type=_float_or_none,
        help="receiver DC offset, dB relative to the mean frame power ('none' = off)",
    )
    g.add_argument(
        "--iq-imbalance",
        type=_iq_pair,
        metavar="DB,DEG",
        help="receiver IQ amplitude (dB, +-10) and phase (deg, +-45) imbalance, as channels.iqbal_gen",
    )
    g.add_argument(
        "--phase-noise-dbc",
        type=_float_or_none,
        help="integrated LO phase noise, dBc = 10 log10(phase variance in rad^2) ('none' = off)",
    )
    g.add_argument("--phase-noise-bw-hz", type=float, help="corner of the phase noise (default 100e3 Hz)")
    g.add_argument("--level-db", type=float, help="receiver gain on signal and noise (dB, +-80)")
    g.add_argument("--clip-percent", type=float, help="ADC clipping: %% of I/Q rails clipped (0..20)")
    if rate_args:
        g.add_argument("--center-freq", type=float, help="centre frequency for the ppm offsets (Hz)")
        g.add_argument("--samp-rate", type=float, help="sample rate for the ppm offsets (Hz, default 2e6)")


def check_cfo(imp: RadioImpairments, command: str) -> RadioImpairments:
    """UserError when the carrier offset of ``imp`` exceeds +-16 subcarrier spacings."""
    from .cli import UserError

    if abs(imp.cfo_subcarriers()) > MAX_CHANNEL_CFO_SUBCARRIERS:
        raise UserError(
            f"gensem {command}: carrier offset {imp.cfo_subcarriers():.3g} subcarrier spacings "
            f"(--cfo-ppm {imp.cfo_ppm:g} at {imp.center_freq:g} Hz, {imp.samp_rate:g} sps) must be within +-16"
        )
    return imp


def impairments_from_args(args, command: str, samp_rate=None, center_freq=None) -> RadioImpairments:
    """The profile with the explicit options applied, validated; a bad value is a UserError.
    ``samp_rate`` / ``center_freq``: the command's own values (None: ``--samp-rate`` /
    ``--center-freq``, else the profile's)."""
    from .cli import UserError

    over = {}
    for name in _FLOAT_FIELDS:
        v = getattr(args, name, None)
        if v is not None:
            over[name] = float(v)
    for dest in ("dc_offset_db", "phase_noise_dbc"):
        v = getattr(args, dest, None)
        if v is not None:
            over[dest] = None if v == "none" else float(v)
    iq = getattr(args, "iq_imbalance", None)
    if iq is not None:
        over["iq_amp_db"], over["iq_phase_deg"] = iq
    rate = samp_rate if samp_rate is not None else getattr(args, "samp_rate", None)
    freq = center_freq if center_freq is not None else getattr(args, "center_freq", None)
    if rate is not None:
        over["samp_rate"] = float(rate)
    if freq is not None:
        over["center_freq"] = float(freq)
    try:
        return from_profile(getattr(args, "radio_profile", None), **over).validate()
    except ValueError as exc:
        raise UserError(f"gensem {command}: {exc}") from None
