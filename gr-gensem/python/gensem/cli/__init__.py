"""``gensem`` command line.

Every subcommand prints a human summary, or one JSON object with ``--json``. User
errors (bad flags, empty text, unknown M, SNR out of range, text over the packet
limit) print one line on stderr and exit with status 2.

One module per subcommand (link, sweep, plan, demo, calibrate, jscc, record/replay, radio);
``common`` holds the shared options and the one user-error path.
"""

from __future__ import annotations

import argparse
import os
import sys

from gensem.cli.common import UserError, _config, _Parser  # noqa: F401  (the package's API)


def build_parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="gensem", description="generative semantic communications over GNU Radio")
    sub = ap.add_subparsers(dest="cmd", parser_class=_Parser)
    from gensem.cli.link import add_link_parser
    from gensem.cli.sweep import add_sweep_parser

    add_link_parser(sub)
    add_sweep_parser(sub)
    from gensem.cli.demo import add_demo_parser
    from gensem.cli.plan import add_plan_parser

    add_plan_parser(sub, UserError)
    add_demo_parser(sub, UserError)
    from gensem.cli.calibrate import add_calibrate_parser

    add_calibrate_parser(sub, UserError)
    from gensem.cli.jscc import add_jscc_parser
    from gensem.cli.keys import add_keys_parser

    add_keys_parser(sub, UserError)

    add_jscc_parser(sub, UserError)
    from gensem.cli.record import add_subcommands  # record, replay, radio

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
                "gensem: choose a subcommand: link, sweep, plan, demo, calibrate, jscc, keys, record, replay, radio (gensem -h for help)"
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
    sys.exit(main())
