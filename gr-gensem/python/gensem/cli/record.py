"""``gensem record`` and ``gensem replay``: SigMF recordings of the loopback (``gensem radio``: cli/radio.py).

Registered in ``cli.build_parser``. Same conventions as ``gensem link``: a human
summary or one JSON object (``--json``); user errors and absent hardware print one
line on stderr and exit 2.
"""

from __future__ import annotations

import json

from gensem.cli.common import UserError, _add_link_args, _config


def cmd_record(args) -> int:
    if not args.samp_rate > 0:
        raise UserError("gensem record: --samp-rate must be > 0 (Hz)")
    cfg = _config(args, args.snr_db, "record")  # the radio impairments run at --samp-rate
    from gensem.apps.recording import record_loopback

    # the metadata's frequency: --freq, else the one the simulated radio offsets were computed at
    freq = args.freq or (0.0 if cfg.impairments.is_ideal else cfg.impairments.center_freq)
    try:
        r = record_loopback(cfg, args.out, samp_rate=args.samp_rate, center_freq=freq)
    except OSError as exc:
        raise UserError(f"gensem record: cannot write {args.out}: {exc.strerror or exc}") from None
    if args.json:
        print(json.dumps(r))
    else:
        rec = r["recording"]
        print(f"gensem record: {rec['samples']} samples, {rec['annotations']} frames -> {rec['meta']}")
    return 0


def _summary_replay(r) -> str:
    p, a = r["prompt"], r["adaptive"]
    lines = [
        f"gensem replay: {r['file']} ({r['samples']} samples at {r['sample_rate']:g} Hz)",
        f"  {r['frames_decoded']} frames decoded, {r['header_failures']} header failures",
    ]
    if p["delivered"]:
        lines.append(f"  prompt: {p['text']!r}" + ("" if p["match"] is None else f" (match: {p['match']})"))
    else:
        lines.append("  prompt: none delivered")
    if a["bits"]:
        lines.append(
            f"  stream 1: {a['frames']} PRBS frames, {a['bit_errors']} errors in {a['bits']} bits, "
            f"BER {a['ber']:.3e}, SNR estimate {a['snr1_est_db']} dB"
        )
    return "\n".join(lines)


def cmd_replay(args) -> int:
    from gensem.apps.recording import replay

    try:
        r = replay(args.file, prbs_seed=args.seed)
    except ValueError as exc:
        raise UserError(f"gensem replay: {exc}") from None
    print(json.dumps(r) if args.json else _summary_replay(r))
    return 0


def add_subcommands(sub):
    r = sub.add_parser("record", help="run the loopback and record the RX input to SigMF")
    _add_link_args(r, rate_args=False)
    r.add_argument("--out", required=True, help="SigMF base name (writes .sigmf-data and .sigmf-meta)")
    r.add_argument(
        "--samp-rate", type=float, default=1e6, help="sample rate of the metadata and the radio offsets (Hz)"
    )
    r.add_argument(
        "--freq",
        "--center-freq",
        dest="freq",
        type=float,
        default=0.0,
        help="centre frequency for the metadata and the ppm offsets (Hz; 0: 2.45e9 for the offsets)",
    )
    r.set_defaults(func=cmd_record)
    p = sub.add_parser("replay", help="decode a SigMF recording through the RX chain")
    p.add_argument("file", help=".sigmf-meta, .sigmf-data or their base name")
    p.add_argument("--seed", type=int, default=None, help="PRBS seed (default: from the metadata)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_replay)
    from gensem.cli.radio import add_radio_subcommand

    add_radio_subcommand(sub)

