"""What every ``gensem`` subcommand shares: the one user-error path (``UserError``: one line
on stderr, exit status 2, raised by the argument parser too), the link-style options, the
radio-impairment options, and the validated ``LinkConfig`` they give.

Impairment options (every command with a simulated channel):
``add_impairment_args(parser)`` adds ``--radio-profile {ideal,b200,hackrf}`` and the options
that override the profile's values (``--cfo-ppm``, ``--sfo-ppm``, ``--dc-offset-db``,
``--iq-imbalance DB,DEG``, ``--phase-noise-dbc``, ``--phase-noise-bw-hz``, ``--level-db``,
``--clip-percent``, and ``--center-freq`` / ``--samp-rate`` where the command has none);
``impairments_from_args(args, command)`` builds the validated ``RadioImpairments``, or
raises ``UserError`` (one line on stderr, exit status 2). Used by ``gensem link``,
``gensem sweep``, ``gensem record`` and ``gensem radio rx --sim-snr-db``.
"""

from __future__ import annotations

import argparse

from gensem.core.errors import UserError
from gensem.dsp.radio_impairments import (
    MAX_CHANNEL_CFO_SUBCARRIERS,
    PROFILE_NAMES,
    RadioImpairments,
    from_profile,
)

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


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line instead of usage + message
        raise UserError(f"{self.prog}: {message}")


def _add_link_args(p: argparse.ArgumentParser, sweep: bool = False, rate_args: bool = True):
    """The options of link-style commands; ``rate_args`` False when the command defines its
    own ``--samp-rate`` / centre frequency (``gensem record``)."""
    p.add_argument(
        "--stream",
        choices=["adaptive", "prompt", "both"],
        default=None,
        help="which sub-channel(s) to run (default: adaptive; both with --adaptive-plan)",
    )
    p.add_argument("--mod", type=int, default=16, help="M of stream 1: 4, 16, 64 or 256")
    if not sweep:
        p.add_argument(
            "--snr-db",
            type=float,
            default=20.0,
            help="one stream: Es/N0 per data subcarrier; both: average SNR",
        )
    p.add_argument("--channel", choices=["awgn", "rayleigh"], default="awgn")
    p.add_argument("--frames", type=int, default=100, help="stream-1 frames to send")
    p.add_argument("--text", default="", help="prompt text (UTF-8) for stream 0")
    p.add_argument(
        "--prompt-power",
        type=float,
        default=0.5,
        help="power fraction p0/P_T of the prompt stream (--stream both)",
    )
    p.add_argument("--payload-bytes", type=int, default=256, help="stream-1 bytes per packet")
    p.add_argument(
        "--aggregate",
        type=int,
        default=1,
        help="packets per stream-1 frame, each with its own delimiter and CRC-32 (1: one per frame)",
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--cfo-subcarriers",
        type=float,
        default=0.0,
        help="carrier offset in subcarrier spacings (+-16, with --cfo-ppm's share)",
    )
    p.add_argument("--timing-offset", type=int, default=0, help="samples")
    p.add_argument("--multipath", type=int, default=1, help="channel taps")
    p.add_argument(
        "--pdp-decay-db", type=float, default=6.0, help="exponential power-delay profile, dB per tap"
    )
    p.add_argument(
        "--ack-loss", type=float, default=0.0, help="probability that a feedback (ACK/NACK) message is lost"
    )
    p.add_argument("--max-retries", type=int, default=32)
    p.add_argument(
        "--rx-process", action="store_true", help="decode in a worker process (off the flowgraph's GIL)"
    )
    if not sweep:
        g = p.add_argument_group("closed loop (latency-aware planner)")
        g.add_argument(
            "--snr-profile",
            help="SNR steps during the run, SNR_DB:FRAMES,... (e.g. 28:40,14:40,6:40); sets --frames",
        )
        g.add_argument(
            "--adaptive-plan",
            action="store_true",
            help="the planner picks M1 and the power split every frame from the RX SNR estimates",
        )
        add_plan_target_args(g)
        g.add_argument("--v0-bits", type=float, default=1000, help="prompt size |v0| the planner assumes")
        g.add_argument("--v1-bits", type=float, default=7880, help="edge-map size |v1| the planner assumes")
        g.add_argument(
            "--plan-margin-db", type=float, default=1.0, help="plan at the estimated SNR minus this margin"
        )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    from gensem.cli.common import add_impairment_args

    add_impairment_args(p, rate_args=rate_args)


DEFAULT_PLAN_TEXT = "a red car parked in front of a brick building"


def add_plan_target_args(g) -> None:
    """The closed loop's planner targets, shared by gensem link and gensem radio tx: the BER or
    quality targets (with their calibration) and eq. (2)'s PER model."""
    g.add_argument("--target-ber", type=float, default=None, help="edge-map BER target of the planner (default 1e-5)")
    g.add_argument("--targets", help="quality targets CLIP,MS-SSIM instead of --target-ber")
    g.add_argument("--calibration", help="calibration CSV for --targets (default: Fig. 2 targets)")
    add_per_model_arg(g)


def add_per_model_arg(g, note: str = "") -> None:
    """``--per-model {paper,measured}``: eq. (2)'s k, b for the planner (``planner.per_fit``)."""
    from gensem.planner.per_fit import PER_MODELS

    g.add_argument(
        "--per-model",
        choices=list(PER_MODELS),
        default="paper",
        help="the planner's eq. (2) PER model: the paper's k, b or our PHY's fit (gensem plan --fit-per)" + note,
    )


def parse_profile(spec: str | None, command: str = "gensem link", flag: str = "--snr-profile") -> tuple:
    """((snr_db, frames), ...) of ``SNR_DB:FRAMES,...``; a bad spec or a step of < 1 frame is
    a one-line UserError."""
    if not spec:
        return ()
    try:
        steps = []
        for part in spec.split(","):
            snr, n = part.split(":")
            steps.append((float(snr), int(n)))
    except ValueError:
        raise UserError(f"{command}: bad {flag} {spec!r}; use SNR_DB:FRAMES,... e.g. 28:40,14:40") from None
    if any(n < 1 for _, n in steps):
        raise UserError(f"{command}: every {flag} step needs at least 1 frame, got {spec!r}")
    return tuple(steps)


def plan_ber(args, command: str = "gensem link") -> float:
    if getattr(args, "targets", None):
        if args.target_ber is not None:
            raise UserError(f"{command}: give --target-ber or --targets, not both")
        from gensem.planner import get_calibration

        try:
            return get_calibration(args.calibration).ber_for_targets(
                [float(v) for v in args.targets.split(",")]
            )
        except ValueError as exc:
            raise UserError(f"{command}: --targets: {exc}") from None
    return 1e-5 if getattr(args, "target_ber", None) is None else args.target_ber


def _config(args, snr_db, command: str):
    """The validated LinkConfig of a link-style command; a bad value is a UserError."""
    from gensem.apps.link import LinkConfig

    plan = bool(getattr(args, "adaptive_plan", False))
    stream = args.stream or ("both" if plan else "adaptive")
    text = args.text or (DEFAULT_PLAN_TEXT if plan else "")
    extra = {}
    if hasattr(args, "snr_profile"):
        extra = {
            "snr_profile": parse_profile(args.snr_profile),
            "adaptive_plan": plan,
            "target_ber": plan_ber(args),
            "v0_bits": args.v0_bits,
            "v1_bits": args.v1_bits,
            "plan_margin_db": args.plan_margin_db,
            "per_model": args.per_model,
        }
    cfg = LinkConfig(
        **extra,
        stream=stream,
        mod=args.mod,
        snr_db=snr_db,
        channel=args.channel,
        frames=args.frames,
        text=text,
        prompt_power=args.prompt_power,
        payload_bytes=args.payload_bytes,
        aggregate=args.aggregate,
        seed=args.seed,
        cfo_subcarriers=args.cfo_subcarriers,
        timing_offset=args.timing_offset,
        multipath=args.multipath,
        pdp_decay_db=args.pdp_decay_db,
        ack_loss=args.ack_loss,
        max_retries=args.max_retries,
        rx_process=args.rx_process,
        impairments=impairments_from_args(args, command, center_freq=_center_freq(args)),
    )
    try:
        return cfg.validate()
    except ValueError as exc:
        raise UserError(f"gensem {command}: {exc}") from None


def _center_freq(args):
    """``--center-freq``, else a command's ``--freq`` when set (> 0), else None (the profile's)."""
    f = getattr(args, "center_freq", None)
    if f is None and getattr(args, "freq", None):
        f = args.freq
    return f
