"""One-line error text, shared by the radio side and ``receiver_ai`` (stdlib only)."""

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
