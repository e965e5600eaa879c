"""``gensem plan``: the latency-aware planner (Lemma 1, Table II, Fig. 4) on the command line.

    gensem plan --snr-db 8 --v0-bits 1000 --v1-bits 7880 --targets 0.997,0.982 --json
    gensem plan --table --v0-bits 1000 --v1-bits 7880 --ber 1e-6 1e-5 1e-4 --json
    gensem plan --figure4 --out DIR

Targets are normalised quality values in the order of the calibration's columns
(default: CLIP, MS-SSIM; ``--calibration FILE`` replaces the default table).
"""

from __future__ import annotations

import json
import math

DEFAULT_BERS = (1e-6, 1e-5, 1e-4)


def add_plan_parser(sub, user_error):
    p = sub.add_parser("plan", help="latency-aware power split and edge-map modulation (Lemma 1)")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--snr-db", type=float, help="average SNR gamma_bar (dB) to plan for")
    what.add_argument("--distance-m", type=float, help="plan for the average SNR of eq. (1) at this distance")
    what.add_argument("--table", action="store_true", help="modulation-adaptation table (Table II)")
    what.add_argument("--figure4", action="store_true", help="write Fig. 4 panels (PNG) and data (CSV)")
    what.add_argument(
        "--fit-per",
        action="store_true",
        help="measure our prompt PHY's PER (Monte Carlo) and fit eq. (2)'s k, b (JSON + PNG in --out)",
    )
    from gensem.cli.common import add_per_model_arg

    add_per_model_arg(p, "; measured has no SNR floor")
    p.add_argument("--packets", type=int, default=2000, help="--fit-per: packets per (length, SNR) point")
    p.add_argument("--store", action="store_true", help="--fit-per: store the fit in the package")
    p.add_argument("--workers", type=int, help="--fit-per: run the points on a local Dask cluster of N")
    p.add_argument("--scheduler", help="--fit-per: run the points on an existing Dask scheduler (address)")
    p.add_argument("--v0-bits", type=float, default=1000, help="prompt size |v0| in bits")
    p.add_argument("--v1-bits", type=float, default=7880, help="edge-map size |v1| in bits")
    p.add_argument("--ber", type=float, nargs="+", help="edge-map BER target(s) instead of quality targets")
    p.add_argument(
        "--targets",
        nargs="+",
        help="normalised quality target(s) as CLIP,MS-SSIM (several for --table/--figure4)",
    )
    p.add_argument("--calibration", help="CSV from `gensem calibrate` (ber,<metric>,...)")
    p.add_argument("--pt-mw", type=float, default=10.0, help="power budget P_T in mW (Table I: 10)")
    p.add_argument("--b0-hz", type=float, default=1e6, help="prompt bandwidth B0 (Table I: 1 MHz)")
    p.add_argument("--b1-hz", type=float, default=1e6, help="edge-map bandwidth B1 (Table I: 1 MHz)")
    p.add_argument("--out", default="out/plan", help="output directory for --figure4")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=lambda a: cmd_plan(a, user_error))
    return p


def _clean(x):
    """JSON-safe: non-finite floats become null."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_clean(v) for v in x]
    return x


def _bers(args, user_error, single: bool):
    from gensem.planner import get_calibration

    if args.ber and args.targets:
        raise user_error("gensem plan: give --ber or --targets, not both")
    if args.ber:
        bers = list(args.ber)
        if single and len(bers) != 1:
            raise user_error("gensem plan: --snr-db plans for one target: give one --ber")
        return bers, None
    cal = get_calibration(args.calibration)
    if not args.targets:
        if single:
            raise user_error("gensem plan: give --targets CLIP,MS-SSIM (e.g. 0.997,0.982) or --ber")
        return list(DEFAULT_BERS), cal
    if single and len(args.targets) != 1:
        raise user_error("gensem plan: --snr-db plans for one target: give one CLIP,MS-SSIM pair")
    bers = []
    for spec in args.targets:
        try:
            vals = [float(v) for v in spec.split(",") if v.strip()]
        except ValueError:
            raise user_error(f"gensem plan: bad --targets {spec!r}; use e.g. 0.997,0.982") from None
        bers.append(cal.ber_for_targets(vals))
    return bers, cal


def cmd_plan(args, user_error) -> int:
    from gensem.planner import TABLE_I, figure4_data, modulation_table, plan, write_figure4
    from gensem.planner.equations import average_snr_db_at_distance

    try:
        for name, v in (("--pt-mw", args.pt_mw), ("--b0-hz", args.b0_hz), ("--b1-hz", args.b1_hz)):
            if not (math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a positive number; got {v:g}")
        for name, v in (("--v0-bits", args.v0_bits), ("--v1-bits", args.v1_bits)):
            if not (math.isfinite(v) and v >= 1):
                raise ValueError(f"{name} must be >= 1 bit; got {v:g}")
        p = TABLE_I.with_(P_T_w=args.pt_mw * 1e-3, B0_hz=args.b0_hz, B1_hz=args.b1_hz)
        if args.fit_per:
            return _fit_per(args)
        from gensem.planner.per_fit import system_params

        p = system_params(args.per_model, base=p)  # measured: fitted to our PHY, no floor
        single = args.snr_db is not None or args.distance_m is not None
        if not (single or args.table or args.figure4):
            raise ValueError("choose --snr-db, --distance-m, --table, --figure4 or --fit-per")
        bers, cal = _bers(args, user_error, single)
        for b in bers:
            if not 0 < b < 1 / p.beta:
                raise ValueError(f"BER target must be in (0, {1 / p.beta:g}); got {b:g}")
        if single:
            if args.distance_m is not None:
                if not (math.isfinite(args.distance_m) and args.distance_m > 0):
                    raise ValueError("--distance-m must be > 0")
                snr_db = average_snr_db_at_distance(args.distance_m, p)
            else:
                snr_db = args.snr_db
            if not (math.isfinite(snr_db) and -30 <= snr_db <= 80):
                raise ValueError(f"average SNR {snr_db:g} dB out of range; use -30..80 dB")
            out = plan(snr_db, args.v0_bits, args.v1_bits, bers[0], p)
            if args.distance_m is not None:
                out["distance_m"] = args.distance_m
            out["calibration"] = cal.source if cal else None
            if out["retransmissions"] > p.max_transmissions:
                out["feasible"] = False
                out["reason"] = (
                    f"the prompt needs {out['retransmissions']:.3g} expected transmissions at "
                    f"{snr_db:.2f} dB, more than the ARQ allows ({p.max_transmissions:g})"
                )
        elif args.table:
            out = {"table": modulation_table(args.v0_bits, args.v1_bits, bers, p)}
        else:
            rows = figure4_data(args.v0_bits, args.v1_bits, bers, p=p)
            out = {"files": write_figure4(rows, args.out), "target_bers": bers}
    except ValueError as exc:
        raise user_error(f"gensem plan: {exc}") from None
    out = _clean(out)
    print(json.dumps(out) if args.json else _summary(out, args))
    if out.get("feasible") is False:
        raise user_error(f"gensem plan: infeasible: {out['reason']}")
    return 0


def _fit_per(args) -> int:
    import os
    import shutil
    import sys

    from gensem.dsp import prompt_per
    from gensem.planner import per_fit

    if args.packets < 100:
        raise ValueError("--packets must be >= 100")
    os.makedirs(args.out, exist_ok=True)
    tty = sys.stderr.isatty() and not args.json
    def show(ch, nb, s):
        print(f"\r{ch} {nb} B {s:+.0f} dB ", end="", file=sys.stderr)

    client = None
    if args.workers or args.scheduler:
        client = prompt_per.dask_client(args.workers, args.scheduler)
    try:
        rep = prompt_per.run_fit(args.packets, progress=show if tty else None, client=client)
    finally:
        if client is not None:
            client.close()
    rep["command"] = f"gensem plan --fit-per --packets {args.packets}"
    path = os.path.join(args.out, "per_fit.json")
    with open(path, "w") as f:
        json.dump(rep, f, indent=1)
    rep["files"] = [path, prompt_per.write_png(rep, os.path.join(args.out, "per_fit.png"))]
    if args.store:
        shutil.copyfile(path, per_fit.MEASURED_JSON)
        rep["stored"] = per_fit.MEASURED_JSON
    if args.json:
        print(json.dumps({k: v for k, v in rep.items() if k != "points"}))
    else:
        for ch, f in rep["fits"].items():
            print(
                f"{ch:>8}: k = {f['k']:.4f}, b = {f['b']:.4f} "
                f"({f['points']} points, rms residual {f['rms_residual_c']:.3f})"
            )
        print(f"   paper: k = 0.374, b = -0.31; wrote {', '.join(rep['files'])}")
    return 0


def _summary(out, args) -> str:
    if "table" in out:
        lines = [
            "target BER  M1   avg SNR range (dB)     stream SNR (dB)  latency T1 (ms)  at-edge reading (ms)"
        ]
        for r in out["table"]:
            lo = "-inf" if r["snr_db_min"] is None else f"{r['snr_db_min']:.2f}"
            hi = "+inf" if r["snr_db_max"] is None else f"{r['snr_db_max']:.2f}"
            ss = "-" if r["stream_snr_db"] is None else f"{r['stream_snr_db']:.2f}"
            lat = "unbounded" if r["latency_ms"] is None else f"{r['latency_ms']:.3f}"
            old = "-" if r.get("latency_ms_at_edge") is None else f"<= {r['latency_ms_at_edge']:.3f}"
            lines.append(
                f"{r['target_ber']:<10g}  {r['modulation']:<3d}  [{lo:>6}, {hi:>6})   {ss:>15}  "
                f"{lat:>15}  {old}"
            )
        return "\n".join(lines)
    if "files" in out:
        return "gensem plan: wrote " + ", ".join(out["files"])
    d = out["discrete"]
    return "\n".join(
        [
            f"gensem plan: average SNR {out['snr_db']:.2f} dB, edge-map BER target {out['target_ber']:g}",
            f"  Lemma 1 (continuous): p0 = {out['p0_w'] * 1e3:.3f} mW, p1 = {out['p1_w'] * 1e3:.3f} mW, "
            f"T0 = T1 = {out['latency_ms']:.3f} ms, {out['bits_per_symbol']:.2f} bit/symbol, "
            f"{out['retransmissions']:.2f} expected prompt transmissions",
            f"  discrete: M1 = {d['modulation']}"
            + (" (edge map not sent)" if not d["edge_map_sent"] else "")
            + f", p0 = {d['p0_w'] * 1e3:.3f} mW, latency {d['latency_ms']:.3f} ms",
            f"  semantic-unaware baseline: {out['baseline_latency_ms']:.3f} ms",
        ]
    )
