"""``gensem`` command line: ``gensem link``, ``gensem sweep`` and ``gensem plan`` (cli_plan.py).

Every subcommand prints a human summary, or one JSON object with ``--json``. User
errors (bad flags, empty text, unknown M, SNR out of range, text over the packet
limit) print one line on stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys


class UserError(Exception):
    """A mistake in the command line: reported on one line, exit status 2."""


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
    p.add_argument("--payload-bytes", type=int, default=256, help="stream-1 bytes per frame")
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
        g.add_argument("--target-ber", type=float, help="edge-map BER target of the planner (default 1e-5)")
        g.add_argument("--targets", help="quality targets CLIP,MS-SSIM instead of --target-ber")
        g.add_argument("--calibration", help="calibration CSV for --targets (default: Fig. 2 targets)")
        g.add_argument("--v0-bits", type=float, default=1000, help="prompt size |v0| the planner assumes")
        g.add_argument("--v1-bits", type=float, default=7880, help="edge-map size |v1| the planner assumes")
        g.add_argument(
            "--plan-margin-db", type=float, default=1.0, help="plan at the estimated SNR minus this margin"
        )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    from .cli_impairments import add_impairment_args

    add_impairment_args(p, rate_args=rate_args)


DEFAULT_PLAN_TEXT = "a red car parked in front of a brick building"


def _parse_profile(spec: str | None) -> tuple:
    if not spec:
        return ()
    try:
        steps = []
        for part in spec.split(","):
            snr, n = part.split(":")
            steps.append((float(snr), int(n)))
        return tuple(steps)
    except ValueError:
        raise UserError(
            f"gensem link: bad --snr-profile {spec!r}; use SNR_DB:FRAMES,... e.g. 28:40,14:40"
        ) from None


def _plan_ber(args) -> float:
    if getattr(args, "targets", None):
        if args.target_ber is not None:
            raise UserError("gensem link: give --target-ber or --targets, not both")
        from .planner import get_calibration

        try:
            return get_calibration(args.calibration).ber_for_targets(
                [float(v) for v in args.targets.split(",")]
            )
        except ValueError as exc:
            raise UserError(f"gensem link: --targets: {exc}") from None
    return 1e-5 if getattr(args, "target_ber", None) is None else args.target_ber


def _config(args, snr_db, command: str):
    """The validated LinkConfig of a link-style command; a bad value is a UserError."""
    from .cli_impairments import impairments_from_args
    from .link import LinkConfig

    plan = bool(getattr(args, "adaptive_plan", False))
    stream = args.stream or ("both" if plan else "adaptive")
    text = args.text or (DEFAULT_PLAN_TEXT if plan else "")
    extra = {}
    if hasattr(args, "snr_profile"):
        extra = {
            "snr_profile": _parse_profile(args.snr_profile),
            "adaptive_plan": plan,
            "target_ber": _plan_ber(args),
            "v0_bits": args.v0_bits,
            "v1_bits": args.v1_bits,
            "plan_margin_db": args.plan_margin_db,
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


def _summary_link(cfg, r) -> str:
    lines = [f"gensem link: {cfg.stream} stream(s), {cfg.channel}, SNR {cfg.snr_db:g} dB, seed {cfg.seed}"]
    if not cfg.impairments.is_ideal:
        lines.append(f"  radio: {cfg.impairments.describe()}")
    from .link import stream_reports

    a, pr = stream_reports(cfg, r)
    if a is not None:
        ber = "n/a" if a["ber"] is None else f"{a['ber']:.3e}"
        if cfg.adaptive_plan:
            lines.append(
                f"  stream 1 (M1 chosen by the planner): {a['frames_received']} frames carried the edge map, "
                f"{a['frames_not_sent']} did not (M1 = 0); {a['bit_errors']} errors in {a['bits']} bits, BER {ber}"
            )
        else:
            lines.append(
                f"  stream 1 ({cfg.mod}-QAM): {a['frames_received']}/{a['frames_sent']} frames, "
                f"{a['bit_errors']} errors in {a['bits']} bits, BER {ber}, "
                f"SNR estimate {a['snr_est_db']} dB"
            )
    if pr is not None and cfg.adaptive_plan:
        lines.append(
            f"  stream 0 (prompt, one per image): {pr['deliveries']} delivered; CRC failures "
            f"{pr['crc_failures']}, timeouts {pr['timeouts']}, duplicates {pr['duplicates']}"
        )
    elif pr is not None:
        state = "delivered" if pr["delivered"] else ("FAILED: " + str(pr["failure"]))
        lines.append(
            f"  stream 0 (prompt): {state} after {pr['transmissions']} transmission(s); "
            f"CRC failures {pr['crc_failures']}, timeouts {pr['timeouts']}, "
            f"ACKs lost {pr['acks_lost']}, duplicates {pr['duplicates']}"
        )
        if pr["text"] is not None:
            lines.append(f"  text: {pr['text']!r}")
    if "plan" in r:
        pl = r["plan"]
        lines.append(
            f"  closed loop (target BER {pl['target_ber']:g}, margin {pl['margin_db']:g} dB, "
            f"{pl['commands']} plan changes); per SNR step, second half:"
        )
        lines.append("    SNR dB  est dB   M1 (planned)  p0 share (planned)  BER (settled)         prompts")
        for st in pl["steps"]:
            est = "-" if st["snr_est_db"] is None else f"{st['snr_est_db']:.2f}"
            ber = "n/a" if st["ber"] is None else f"{st['ber']:.2e}"
            ber += " (n/a)" if st["ber_settled"] is None else f" ({st['ber_settled']:.1e})"
            lines.append(
                f"    {st['snr_db']:6.2f}  {est:>6}   {st['modulation']!s:>3} ({st['planned_modulation']:>2})"
                f"      {st['prompt_power']!s:>7} ({st['planned_prompt_power']:.4f})   {ber:<20}  "
                f"{st['prompts_delivered']}"
            )
    lines.append(
        f"  {r['frames_received']}/{r['frames_sent']} frames decoded, "
        f"{r['samples']} samples in {r['elapsed_s']} s ({r['msps']} Msps)"
    )
    return "\n".join(lines)


def cmd_link(args) -> int:
    cfg = _config(args, args.snr_db, "link")
    from .link import run_link

    r = run_link(cfg, progress=not args.json and sys.stderr.isatty())
    print(json.dumps(r) if args.json else _summary_link(cfg, r))
    return 0


def _parse_range(spec: str) -> list[float]:
    try:
        if ":" in spec:
            a, step, b = (float(x) for x in spec.split(":"))
            if step <= 0 or b < a:
                raise ValueError
            n = math.floor((b - a) / step + 1e-9) + 1
            return [round(a + i * step, 6) for i in range(n)]
        return [float(x) for x in spec.split(",")]
    except ValueError:
        raise UserError(f"gensem sweep: bad --snr-db {spec!r}; use START:STEP:STOP or a,b,c") from None


def cmd_sweep(args) -> int:
    from .sweep import run_sweep

    snrs = _parse_range(args.snr_db)
    cfgs = [_config(args, s, "sweep") for s in snrs]
    result = run_sweep(cfgs, args.out, progress=not args.json and sys.stderr.isatty())
    if args.json:
        print(json.dumps(result))
    else:
        for row in result["points"]:
            print(
                f"  SNR {row['snr_db']:6.2f} dB  BER {row.get('ber')}  theory {row.get('ber_theory')}"
                f"  PER {row.get('per')}"
            )
        print(f"gensem sweep: wrote {result['png']} and {result['json']}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="gensem", description="generative semantic communications over GNU Radio")
    sub = ap.add_subparsers(dest="cmd", parser_class=_Parser)
    p = sub.add_parser("link", help="run the two-stream OFDM loopback link")
    _add_link_args(p)
    p.set_defaults(func=cmd_link)
    s = sub.add_parser("sweep", help="BER/PER vs SNR with theory overlay (PNG + JSON)")
    _add_link_args(s, sweep=True)
    s.add_argument("--snr-db", default="0:2:20", help="START:STEP:STOP or a,b,c (dB)")
    s.add_argument("--out", default="out/sweep", help="output directory")
    s.set_defaults(func=cmd_sweep)
    from .cli_demo import add_demo_parser
    from .cli_plan import add_plan_parser

    add_plan_parser(sub, UserError)
    add_demo_parser(sub, UserError)
    from .cli_calibrate import add_calibrate_parser

    add_calibrate_parser(sub, UserError)
    from .cli_jscc import add_jscc_parser

    add_jscc_parser(sub, UserError)
    from .cli_radio import add_subcommands  # record, replay, radio

    add_subcommands(sub)
    return ap


def main(argv=None) -> int:
    import warnings

    # library deprecation chatter (torch.jit in CompressAI, transformers) is not for users
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=UserWarning, module="huggingface_hub")
    try:
        from gnuradio import gr

        gr.logging().set_default_level(gr.log_levels.warn)
    except ImportError:
        pass
    ap = build_parser()
    try:
        args = ap.parse_args(argv)
        if not getattr(args, "func", None):
            raise UserError(
                "gensem: choose a subcommand: link, sweep, plan, demo, calibrate, jscc, record, replay, radio (gensem -h for help)"
            )
        return args.func(args)
    except UserError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gensem: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    # run the package module, not this __main__ copy: subcommand modules raise gensem.cli.UserError
    from gensem.cli import main as _main

    sys.exit(_main())
