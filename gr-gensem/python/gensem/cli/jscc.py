"""``gensem jscc``: CDM-JSCC and its baselines.

    gensem jscc eval --images data/images --snr-db 10 --cbr 1/48 --json
    gensem jscc send --image skimage:astronaut --snr-db 10 [--over-link]

``eval`` prints one row per method (``{"results": [...]}`` with ``--json``) and writes
OUT/metrics_vs_snr.png (PSNR and MS-SSIM vs SNR, same models) and OUT/reconstructions.png.
``send`` runs one image through one method; ``--over-link`` sends the CDM-JSCC side
information on stream 0 (CRC + ARQ) and the symbols as analog stream-1 frames of the GNU
Radio OFDM loopback flowgraph instead of the simulated AWGN channel.
"""

from __future__ import annotations

import json
import os
import sys
from fractions import Fraction

from gensem.jscc.evaluate import COLOUR_LAYOUT, METHODS


def _cbr(text: str) -> float:
    try:
        v = float(Fraction(text))
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"bad --cbr {text!r}; use a fraction such as 1/48") from None
    if not 0 < v <= 1:
        raise ValueError(f"--cbr {text} must be in (0, 1]")
    return v


def add_jscc_parser(sub, user_error):
    p = sub.add_parser("jscc", help="CDM-JSCC vs DeepJSCC / HEVC baselines (eval, send)")
    jsub = p.add_subparsers(dest="jscc_cmd", parser_class=type(p))
    e = jsub.add_parser("eval", help="all methods on the same images, SNR and CBR")
    e.add_argument("--images", default="data/images", help="directory (val split of its manifest) or image")
    e.add_argument("--split", default="val", help="manifest split to use ('' = every image)")
    e.add_argument("--snr-db", type=float, default=10.0)
    e.add_argument("--cbr", default="1/48")
    e.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    e.add_argument("--steps", type=int, help="CDM-JSCC sampling steps (default: the checkpoint's)")
    e.add_argument(
        "--init-scale", type=float, help="CDM-JSCC sampling starts from this times N(0, I) (default 1; the authors' P: 0.8)"
    )
    e.add_argument("--weights-dir", help="directory with cdm_jscc_p.pt, cdm_jscc_d.pt, deepjscc.pt")
    e.add_argument(
        "--plot-snrs", default="1,4,7,10,13", help="SNRs (dB) of the metrics-vs-SNR PNG ('' = none)"
    )
    e.add_argument("--limit", type=int, help="use only the first N images")
    e.add_argument(
        "--native",
        action="store_true",
        help="evaluate at each image's own resolution (centre-cropped to multiples of 64, no resize) "
        "instead of fitting it to 768x512",
    )
    e.add_argument(
        "--colour-layout",
        choices=COLOUR_LAYOUT,
        default="cdm",
        help="which learned methods send the colour layout in their side information: CDM-JSCC "
        "(default, within its CBR), all (DeepJSCC too, on top of its CBR), none (as published)",
    )
    e.add_argument("--no-lpips", action="store_true")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--out", default="out/jscc_eval")
    e.add_argument("--json", action="store_true")
    e.set_defaults(func=lambda a: cmd_eval(a, user_error))
    s = jsub.add_parser("send", help="one image through one method (simulated AWGN or the OFDM link)")
    s.add_argument("--image", required=True, help="image file or skimage:NAME")
    s.add_argument("--method", choices=METHODS, default="cdm-jscc-d")
    s.add_argument("--snr-db", type=float, default=10.0)
    s.add_argument("--cbr", default="1/48")
    s.add_argument("--steps", type=int)
    s.add_argument("--weights-dir")
    s.add_argument("--over-link", action="store_true", help="through the GNU Radio OFDM loopback flowgraph")
    s.add_argument("--channel", choices=("awgn", "rayleigh"), default="awgn")
    s.add_argument(
        "--bridge",
        metavar="ENDPOINT",
        help="--over-link: also send the decoded PDUs over ZeroMQ to gensem-receiver --backend "
        "cdm-jscc on a GPU host: with push (default) the receiver's PULL endpoint, e.g. "
        "tcp://gpu-host:5555 (receiver runs with --bind --pattern pull); with pub the endpoint to bind",
    )
    s.add_argument("--bridge-pattern", choices=("pub", "push"), default="push")
    s.add_argument("--curve-keys", default="", help="directory from `gensem keys`: CURVE-secured bridge")
    s.add_argument(
        "--no-colour-layout", action="store_true", help="CDM-JSCC without the colour layout (as published)"
    )
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", default="out/jscc_send")
    s.add_argument("--json", action="store_true")
    from gensem.cli.common import add_impairment_args

    add_impairment_args(s)  # the radios of --over-link's simulated channel
    s.set_defaults(func=lambda a: cmd_send(a, user_error))
    p.set_defaults(func=lambda a: (p.print_help(sys.stderr), 2)[1])


def _progress(msg: str) -> None:
    print(f"gensem jscc: {msg}", file=sys.stderr, flush=True)


def cmd_eval(args, user_error) -> int:
    from gensem.jscc.evaluate import IMAGE_SIZE, evaluate, load_images
    from gensem.jscc.figures import metrics_vs_snr_png, reconstruction_grid_png

    try:
        cbr = _cbr(args.cbr)
        snrs = [float(v) for v in args.plot_snrs.split(",") if v.strip()]
        size = None if args.native else IMAGE_SIZE
        images = load_images(args.images, split=args.split or None, size=size)[: args.limit or None]
    except ValueError as exc:
        raise user_error(f"gensem jscc eval: {exc}") from None
    models: dict = {}  # loaded once, used at every SNR
    report = evaluate(
        images,
        args.snr_db,
        cbr,
        args.methods,
        args.steps,
        args.weights_dir,
        not args.no_lpips,
        args.seed,
        keep_recon=True,
        progress=lambda m: _progress(f"{m} at {args.snr_db:g} dB"),
        models=models,
        init_scale=args.init_scale,
        colour_layout=args.colour_layout,
    )
    os.makedirs(args.out, exist_ok=True)
    grid = reconstruction_grid_png(images, report, os.path.join(args.out, "reconstructions.png"))
    curves = {}
    for snr in snrs:
        r = (
            report
            if snr == args.snr_db
            else evaluate(
                images,
                snr,
                cbr,
                args.methods,
                args.steps,
                args.weights_dir,
                False,
                args.seed,
                progress=lambda m, snr=snr: _progress(f"{m} at {snr:g} dB"),
                models=models,
                init_scale=args.init_scale,
                colour_layout=args.colour_layout,
            )
        )
        curves[snr] = r["results"]
    if curves:
        report["figure"] = metrics_vs_snr_png(curves, cbr, os.path.join(args.out, "metrics_vs_snr.png"))
        report["curves"] = {
            f"{k:g}": [{m: row.get(m) for m in ("method", "psnr", "ms_ssim", "cbr", "cbr_side", "error")} for row in v]
            for k, v in curves.items()
        }
    report["grid"] = grid
    for row in report["results"]:
        row.pop("recon", None)
    with open(os.path.join(args.out, "eval.json"), "w") as f:
        json.dump(report, f, indent=2)
    if args.json:
        print(json.dumps(report))
    else:
        print(f"{len(images)} images, {args.snr_db:g} dB, CBR {args.cbr}  ->  {args.out}")
        print(f"{'method':<15}{'PSNR':>8}{'MS-SSIM':>9}{'LPIPS':>8}{'CBR':>9}{'decode s':>10}{'colour err':>11}")
        for row in report["results"]:
            if row.get("error"):
                print(f"{row['method']:<15} unavailable: {row['error']}")
                continue
            lp = "-" if row["lpips"] is None else f"{row['lpips']:.3f}"
            print(
                f"{row['method']:<15}{row['psnr']:8.2f}{row['ms_ssim']:9.4f}{lp:>8}{row['cbr']:9.5f}"
                f"{row['decode_s']:10.3f}{row['colour_error']:11.2f}"
            )
    return 0


def cmd_send(args, user_error) -> int:
    from gensem.apps.jscc_send import send_over_link_cdm
    from gensem.jscc.evaluate import evaluate, load_images

    try:
        cbr = _cbr(args.cbr)
        images = load_images(args.image, split=None)
    except ValueError as exc:
        raise user_error(f"gensem jscc send: {exc}") from None
    from gensem.cli.common import check_cfo, impairments_from_args

    radio = check_cfo(impairments_from_args(args, "jscc send"), "jscc send")
    if not radio.is_ideal and not args.over_link:
        raise user_error(
            "gensem jscc send: the radio impairment options need --over-link (the OFDM loopback)"
        )
    os.makedirs(args.out, exist_ok=True)
    bridge = None
    if args.bridge:
        from gensem.blocks.zmq_bridge_sink import check_endpoint, probe_bind

        if not args.over_link:
            raise user_error(
                "gensem jscc send: --bridge needs --over-link (the bridge carries the link's PDUs)"
            )
        try:
            bridge = {
                "endpoint": check_endpoint(args.bridge),
                "pattern": args.bridge_pattern,
                "curve_keys": args.curve_keys,
            }
            if args.bridge_pattern == "pub":
                probe_bind(bridge["endpoint"])
            if args.curve_keys:
                from gensem.core.zmq_security import check_keys

                check_keys(args.curve_keys, server=args.bridge_pattern == "pub")  # PUB binds
        except ValueError as exc:
            raise user_error(f"gensem jscc send: {exc}") from None
    if args.over_link:
        if not args.method.startswith("cdm-jscc"):
            raise user_error(
                "gensem jscc send: --over-link carries CDM-JSCC (side information + symbols); pick cdm-jscc-p/-d"
            )
        try:
            report = send_over_link_cdm(
                images[0],
                args.method,
                args.snr_db,
                cbr,
                args.steps,
                args.weights_dir,
                args.channel,
                args.seed,
                args.out,
                bridge,
                impairments=None if radio.is_ideal else radio,
                colour=not args.no_colour_layout,
            )
        except (ValueError, RuntimeError) as exc:
            raise user_error(f"gensem jscc send: {exc}") from None
    else:
        r = evaluate(
            images,
            args.snr_db,
            cbr,
            [args.method],
            args.steps,
            args.weights_dir,
            True,
            args.seed,
            keep_recon=True,
            colour_layout="none" if args.no_colour_layout else "cdm",
        )
        report = r["results"][0]
        if report.get("error"):
            raise user_error(f"gensem jscc send: {report['error']}")
        from PIL import Image

        report["output"] = os.path.join(args.out, f"{images[0][0]}_{args.method}.png")
        Image.fromarray(report.pop("recon")[0]).save(report["output"])
        report.pop("per_image", None)
        report.update(snr_db=args.snr_db, channel="awgn (simulated)")
    if args.json:
        print(json.dumps(report))
    else:
        shown = {k: v for k, v in report.items() if not isinstance(v, (list, dict))}
        print("  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in shown.items()))
    return 0
