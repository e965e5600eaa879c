"""Errors both hosts share (stdlib only): one-line error text, and ``UserError``, the one way a
command-line mistake is reported (one line on stderr, exit status 2)."""

from __future__ import annotations


def first_line(exc: BaseException, limit: int = 200, with_type: bool = True) -> str:
    """``"Type: first line of the message"`` cut to ``limit`` characters; the type name alone
    when the message is empty (``str(exc).splitlines()[0]`` raises IndexError then)."""
    lines = str(exc).strip().splitlines()
    text = lines[0].strip() if lines else ""
    name = type(exc).__name__
    if not text:
        return name[:limit]
    return (f"{name}: {text}" if with_type else text)[:limit]


class UserError(Exception):
    """A mistake in the command line or its input: reported on one line, exit status 2."""
