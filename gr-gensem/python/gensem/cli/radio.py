"""``gensem radio tx|rx``: the over-the-air TX or RX with a USRP or HackRF (or ``--dry-run``
over ZeroMQ / a SigMF replay). The flowgraphs are ``gensem.apps.radio.RadioTx`` / ``RadioRx``;
absent hardware is one line on stderr and exit status 2."""

from __future__ import annotations

import json
import os
import time

from gensem.cli.common import UserError


def cmd_radio(a) -> int:
    from gensem.apps.radio import RadioRx, RadioTx, _run
    from gensem.blocks.radio_errors import RadioUnavailable
    from gensem.dsp import qam

    try:
        qam.check_m(a.mod)
    except ValueError as exc:
        raise UserError(f"gensem radio: {exc}") from None
    if not a.samp_rate > 0 or not 0 < a.scale <= 10 or not 0 <= a.prompt_power <= 1:
        raise UserError("gensem radio: need --samp-rate > 0, 0 < --scale <= 10, 0 <= --prompt-power <= 1")
    if a.replay and not a.dry_run:
        raise UserError("gensem radio: --replay needs --dry-run (it replaces the radio)")
    from gensem.cli.common import check_cfo, impairments_from_args, parse_profile, plan_ber

    a.sim_snr_profile = parse_profile(a.sim_snr_profile, "gensem radio", "--sim-snr-profile")
    if a.sim_snr_profile and a.role != "rx":
        raise UserError("gensem radio: --sim-snr-profile simulates the receiver's channel; use it with rx")
    if a.adaptive_plan and (a.role != "tx" or not a.feedback):
        raise UserError("gensem radio: --adaptive-plan runs on the TX host and needs --feedback")
    a.target_ber = plan_ber(a, "gensem radio")

    a.impairments = impairments_from_args(a, "radio", samp_rate=a.samp_rate, center_freq=a.freq)
    if not a.impairments.is_ideal and a.role != "rx":
        raise UserError("gensem radio: the radio impairment options simulate a receiver; use them with rx")
    check_cfo(a.impairments, "radio")
    os.environ.setdefault("UHD_LOG_CONSOLE_LEVEL", "warning")  # no UHD banner on stderr
    try:
        if a.role == "tx":
            if a.text:
                from gensem.dsp.prompt_packet import encode_text

                encode_text(a.text)
            tb = RadioTx(a)
            # ZeroMQ IQ: the PUSH socket still holds samples the RX has not taken when the TX is
            # done, and closing it drops them; keep the graph idle for --linger s (zeros are not
            # sent: the RX sees the stream end) so the queue drains to the RX
            linger = a.linger if a.linger is not None else (2.0 if a.device == "zmq" else 0.0)
            tb.sem.tx.hold_end = linger > 0
            done_at = []

            def tx_done():
                if not tb.sem.finished:
                    return False
                done_at.append(time.monotonic())
                if done_at[-1] - done_at[0] < linger:
                    return False
                tb.sem.tx.hold_end = False
                return True

            t_start = time.monotonic()
            elapsed = _run(tb, tx_done, a.duration)
            if done_at:  # the time to the last frame, without the linger
                elapsed = done_at[0] - t_start
            tx, arq = tb.sem.tx, tb.sem.tx.arq
            outcomes = list(arq.outcomes) + ([arq.current] if arq.current else [])
            r = {
                "role": "tx",
                "device": a.device,
                "dry_run": a.dry_run,
                "frames_sent": tx.frames_sent,
                "prbs_frames_sent": tx.prbs_sent,
                "samples": tx.samples_sent,
                "prompt_acked": bool(outcomes and outcomes[0].delivered) if a.text else None,
                "transmissions": outcomes[0].transmissions if outcomes else 0,
                "timeouts": arq.timeouts,
                "feedback_received": tb.feedback.received if tb.feedback is not None else 0,
                "feedback_bad": tb.feedback.bad_messages if tb.feedback is not None else 0,
                **_plan_report(tb, a),
                "elapsed_s": round(elapsed, 3),
            }
        else:
            tb = RadioRx(a)
            first = []  # time of the first delivery: linger 2 s so retransmissions are ACKed too

            def prompt_done():
                if not (a.until_prompt and tb.sem.delivered):
                    return False
                first.append(time.monotonic())
                return first[-1] - first[0] > 2.0

            elapsed = _run(tb, prompt_done, a.duration)
            if tb.recorder is not None:
                tb.recorder.close()
            st, ber = tb.sem.stats, tb.ber
            texts = [t for _, t in tb.sem.delivered]
            r = {
                "role": "rx",
                "device": a.device,
                "dry_run": a.dry_run,
                "frames_decoded": st.frames,
                "header_failures": st.header_failures,
                "prompt": texts[0] if texts else None,
                "prompts": texts,
                "feedback_sent": tb.feedback.sent if tb.feedback is not None else 0,
                "feedback_dropped": tb.feedback.dropped if tb.feedback is not None else 0,
                "bits": ber.bits,
                "bit_errors": ber.bit_errors,
                "ber": ber.ber if ber.bits else None,
                "prbs_frames": ber.frames,
                "samples": int(tb.counter.nitems_read(0)),
                "elapsed_s": round(elapsed, 3),
            }
            if not a.impairments.is_ideal:
                r["impairments"] = a.impairments.as_dict()
    except RadioUnavailable:
        return 2  # the radio block printed the one-line reason
    except (ValueError, RuntimeError) as exc:  # RuntimeError: a block's start() (a busy feedback port)
        raise UserError(f"gensem radio: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    if a.json:
        print(json.dumps(r))
    else:
        print("gensem radio " + a.role + ": " + ", ".join(f"{k} {v}" for k, v in r.items() if k != "role"))
    return 0


def _plan_report(tb, a) -> dict:
    """The TX's closed-loop figures: what each frame was sent with, the SNR reports it got."""
    if not a.adaptive_plan:
        return {}
    pl, log = tb.planner, list(tb.sem.tx.frame_log)
    return {
        "target_ber": a.target_ber,
        "m1_per_frame": [m if f0 < 1.0 - 1e-6 else 0 for _, m, f0 in log],
        "prompt_power_per_frame": [round(f0, 4) for _, _, f0 in log],
        "snr_reports": [[f, s0, s1] for f, s0, s1 in pl.report_log],
        "reports": pl.reports,
        "reports_lost": pl.lost_reports,
        "reports_late": pl.late_reports,
        "reports_foreign": pl.foreign_reports,
        "plan_commands": pl.commands,
    }


def add_radio_subcommand(sub):
    p = sub.add_parser("radio", help="over-the-air TX or RX with a USRP or HackRF (or --dry-run)")
    p.add_argument("role", choices=["tx", "rx"])
    p.add_argument("--device", choices=["usrp", "hackrf", "zmq"], default="usrp")
    p.add_argument("--args", default="", help="device args, e.g. type=b200 / serial=... / tcp://host:port")
    p.add_argument(
        "--freq", "--center-freq", dest="freq", type=float, default=2.45e9, help="centre frequency (Hz)"
    )
    p.add_argument(
        "--gain", type=float, default=20.0, help="gain (dB): USRP gain, HackRF VGA (TX) / LNA (RX)"
    )
    p.add_argument("--samp-rate", type=float, default=1e6, help="sample rate (Hz)")
    p.add_argument("--antenna", default="", help="USRP antenna (e.g. TX/RX, RX2)")
    p.add_argument("--dry-run", action="store_true", help="no hardware: null sink / zero or file source")
    p.add_argument("--feedback", default="", help="ARQ feedback ZMQ address (RX binds, TX connects)")
    p.add_argument(
        "--curve-keys",
        default="",
        metavar="DIR",
        help="authenticate and encrypt the feedback link (CURVE keys from `gensem keys`, on both hosts)",
    )
    p.add_argument("--duration", type=float, default=0.0, help="stop after this many seconds (0: run on)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--seed", type=int, default=1, help="PRBS seed")
    g = p.add_argument_group("tx")
    g.add_argument("--text", default="", help="prompt to send (ARQ needs --feedback)")
    g.add_argument("--frames", type=int, default=100, help="PRBS frames on stream 1")
    g.add_argument("--mod", type=int, default=16)
    g.add_argument("--prompt-power", type=float, default=0.5)
    g.add_argument("--payload-bytes", type=int, default=256)
    g.add_argument("--window", type=int, default=0, help="frames ahead of feedback (0: ACK timeout only)")
    g.add_argument("--ack-timeout", type=float, default=0.5, help="seconds before a retransmission")
    g.add_argument("--max-retries", type=int, default=32)
    g.add_argument("--scale", type=float, default=0.15, help="digital amplitude (peaks below full scale)")
    g.add_argument(
        "--realtime", action="store_true", help="--device zmq: pace the samples at --samp-rate, like a radio"
    )
    g.add_argument(
        "--linger",
        type=float,
        default=None,
        help="seconds the TX stays up after its last frame so queued samples reach the RX (zmq: 2)",
    )
    g.add_argument(
        "--adaptive-plan",
        action="store_true",
        help="closed loop over the air: the planner sets M1 and the power split from the RX host's "
        "SNR reports (needs --feedback)",
    )
    from gensem.cli.common import add_plan_target_args

    add_plan_target_args(g)
    g = p.add_argument_group("rx")
    g.add_argument("--record", default="", help="also record the RX input to this SigMF base name")
    g.add_argument("--replay", default="", help="with --dry-run: read this SigMF recording instead")
    g.add_argument("--until-prompt", action="store_true", help="stop 2 s after the first prompt is delivered")
    g.add_argument(
        "--decode-process", action="store_true", help="decode in a worker process (higher sample rates)"
    )
    g.add_argument("--sim-snr-db", type=float, default=None, help="add AWGN at this SNR (tests)")
    g.add_argument(
        "--sim-snr-profile",
        default="",
        metavar="SNR:FRAMES,...",
        help="step the simulated SNR as frames are decoded, e.g. 28:60,14:60 (SNR as gensem link's)",
    )
    g.add_argument(
        "--dc-blocker",
        choices=["auto", "on", "off"],
        default="auto",
        help="filter.dc_blocker_cc after the radio (auto: on for a HackRF)",
    )
    from gensem.cli.common import add_impairment_args

    # the radio of the simulated channel (as with --sim-snr-db), at --freq and --samp-rate
    add_impairment_args(p, rate_args=False)
    p.set_defaults(func=cmd_radio)
