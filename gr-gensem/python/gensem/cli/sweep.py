"""``gensem sweep``: BER/PER against SNR with the theory overlay (PNG + JSON)."""

from __future__ import annotations

import json
import math
import sys

from gensem.cli.common import UserError, _add_link_args, _config


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


def add_dask_args(p, what: str) -> None:
    """``--workers N`` / ``--scheduler ADDRESS`` (one or the other) on parser ``p``; ``what``
    names the independent points the command maps onto Dask."""
    g = p.add_argument_group("Dask (the points in parallel, each seeded as in the serial run)")
    x = g.add_mutually_exclusive_group()
    x.add_argument(
        "--workers", type=int, metavar="N", help=f"run the {what} on a local Dask cluster of N processes"
    )
    x.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help=f"run the {what} on an existing Dask scheduler (tcp://HOST:PORT)",
    )


def dask_client_from_args(args, command: str):
    """The Dask client that ``--workers`` / ``--scheduler`` ask for, or None without them; a bad
    value, a missing Dask or an unreachable scheduler is a UserError (one line, exit 2)."""
    from gensem.dsp.prompt_per import dask_client

    if args.workers is None and args.scheduler is None:
        return None
    try:
        return dask_client(args.workers, args.scheduler)
    except ValueError as exc:
        raise UserError(f"gensem {command}: {exc}") from None


def cmd_sweep(args) -> int:
    from gensem.apps.sweep import run_sweep

    snrs = _parse_range(args.snr_db)
    cfgs = [_config(args, s, "sweep") for s in snrs]
    client = dask_client_from_args(args, "sweep")
    try:
        result = run_sweep(cfgs, args.out, progress=not args.json and sys.stderr.isatty(), client=client)
    finally:
        if client is not None:
            client.close()
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


def add_sweep_parser(sub):
    s = sub.add_parser("sweep", help="BER/PER vs SNR with theory overlay (PNG + JSON)")
    _add_link_args(s, sweep=True)
    s.add_argument("--snr-db", default="0:2:20", help="START:STEP:STOP or a,b,c (dB)")
    s.add_argument("--out", default="out/sweep", help="output directory")
    add_dask_args(s, "SNR points")
    s.set_defaults(func=cmd_sweep)
