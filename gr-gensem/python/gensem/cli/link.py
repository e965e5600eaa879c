"""``gensem link``: the two-stream OFDM loopback link, one run (a human summary or ``--json``)."""

from __future__ import annotations

import json
import sys

from gensem.cli.common import _add_link_args, _config


def _summary_link(cfg, r) -> str:
    lines = [f"gensem link: {cfg.stream} stream(s), {cfg.channel}, SNR {cfg.snr_db:g} dB, seed {cfg.seed}"]
    if not cfg.impairments.is_ideal:
        lines.append(f"  radio: {cfg.impairments.describe()}")
    from gensem.apps.link import stream_reports

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
    from gensem.apps.link import run_link

    r = run_link(cfg, progress=not args.json and sys.stderr.isatty())
    print(json.dumps(r) if args.json else _summary_link(cfg, r))
    return 0


def add_link_parser(sub):
    p = sub.add_parser("link", help="run the two-stream OFDM loopback link")
    _add_link_args(p)
    p.set_defaults(func=cmd_link)
