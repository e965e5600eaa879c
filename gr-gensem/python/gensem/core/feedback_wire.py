"""Wire format of the ARQ feedback link between the two radio hosts (RX host -> TX host).

One ZeroMQ message per feedback dict (``prompt_arq_rx``'s ACK / NACK / no-packet report):
UTF-8 JSON of an object with ``"v": VERSION`` and flat scalar fields (str, int, float,
bool, null). JSON, not pickle or a serialised pmt: a message from the network is data,
never code or an arbitrary object graph. A message that is not valid JSON, not an object,
of another version, with a non-scalar field or over ``MAX_BYTES`` is a one-line
``ValueError``; the receiving block counts it and carries on.
"""

from __future__ import annotations

import json
import math

VERSION = 1
MAX_BYTES = 4096
_SCALARS = (str, int, float, bool, type(None))


def encode(fb: dict) -> bytes:
    """The message for one feedback dict."""
    if not isinstance(fb, dict):
        raise ValueError(f"feedback must be a dict, got {type(fb).__name__}")
    body = {"v": VERSION}
    for k, v in fb.items():
        if not isinstance(k, str) or not isinstance(v, _SCALARS) or (isinstance(v, float) and not math.isfinite(v)):
            raise ValueError(f"feedback field {k!r}={v!r} is not a finite scalar")
        body[k] = v
    data = json.dumps(body, separators=(",", ":")).encode()
    if len(data) > MAX_BYTES:
        raise ValueError(f"feedback message of {len(data)} bytes exceeds {MAX_BYTES}")
    return data


def decode(data: bytes) -> dict:
    """The feedback dict of one message (without ``v``); ValueError says what is wrong."""
    if len(data) > MAX_BYTES:
        raise ValueError(f"feedback message of {len(data)} bytes exceeds {MAX_BYTES}")
    try:
        body = json.loads(bytes(data).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"feedback message is not UTF-8 JSON ({exc})") from None
    if not isinstance(body, dict):
        raise ValueError("feedback message is not a JSON object")
    v = body.pop("v", None)
    if v != VERSION:
        raise ValueError(f"feedback message version {v!r}; this gensem speaks {VERSION}: update both hosts")
    for k, val in body.items():
        if not isinstance(val, _SCALARS):
            raise ValueError(f"feedback field {k!r} is not a scalar")
    return body
