"""Absent or failing radios: one line on stderr and exit status 2, never a traceback.

``RadioUnavailable`` is a ``SystemExit`` (code 2), so a GRC-generated script whose radio
cannot be opened ends with the one line the radio block printed; ``gensem radio``
catches it like any other user error.
"""

from __future__ import annotations

import sys


class RadioUnavailable(SystemExit):
    def __init__(self, message: str):
        super().__init__(2)
        self.message = message

    def __str__(self):
        return self.message


def radio_unavailable(kind: str, device_args: str, exc: BaseException) -> RadioUnavailable:
    """Print the one-line error and return the exception to raise."""
    reason = " ".join(str(exc).split())  # the driver's message, on one line
    msg = (
        f"gensem: cannot open {kind} with device args {device_args!r} ({reason}); "
        "check the cable, drivers and --args, or run with --dry-run"
    )
    print(msg, file=sys.stderr, flush=True)
    return RadioUnavailable(msg)
