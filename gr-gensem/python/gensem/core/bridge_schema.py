"""Bridge message schema, versions 1 and 2: decoded PDUs from the radio to the GPU receiver.

Pure standard library (json, zlib, math): the GNU Radio sink and ``receiver_ai`` (a host
without GNU Radio) both import it. One message is three ZeroMQ frames::

    [ b"gensem/" + stream ,  header: UTF-8 JSON object ,  payload bytes ]

The first frame is the topic (SUB sockets can filter on it by prefix); the header has
``"v"`` and describes the payload (length and CRC-32 included, so truncation and
corruption are caught). ``decode`` checks everything and raises ``BridgeError`` (with a
short ``code`` for counters and a one-line reason) on any defect; no other exception
escapes it. Version 1 has the streams of the prompt + edge-map system (prompt, edge,
frame); version 2 adds CDM-JSCC's ``side`` (side-information packets delivered by the
stream-0 ARQ) and ``analog`` (stream-1 frames of analog JSCC symbols). ``encode`` writes the
lowest version that has the stream, so v1 receivers keep working with v1 traffic and count
v2 messages under ``version``. See docs/bridge.md.
"""

from __future__ import annotations

import json
import math
import zlib
from dataclasses import dataclass, field

VERSION = 2  # the newest; decode accepts every version in VERSIONS
STREAMS_BY_VERSION = {1: ("prompt", "edge", "frame"), 2: ("prompt", "edge", "frame", "side", "analog")}
VERSIONS = tuple(STREAMS_BY_VERSION)
TOPIC_PREFIX = b"gensem/"
STREAMS = STREAMS_BY_VERSION[VERSION]
ANALOG_SAMPLE_BYTES = 8  # analog payload: complex64 little endian (numpy '<c8')
DEFAULT_MAX_BYTES = 1 << 20  # cap on a whole message (all frames), configurable per call
MAX_HEADER_BYTES = 4096
MAX_PARTS = 65536
MAX_META_ITEMS = 32
MAX_META_KEY = 64
MAX_META_STR = 256
_MAX_INT = 2**63 - 1

# error codes (counter keys)
E_FRAMES = "frames"  # not a 3-frame multipart message of bytes
E_TOPIC = "topic"  # topic frame is not gensem/<stream>
E_OVERSIZE = "oversize"  # over the message or header cap
E_HEADER = "header"  # header is not a UTF-8 JSON object
E_VERSION = "version"  # "v" missing or not in VERSIONS
E_FIELD = "field"  # missing, unknown, wrong-type or out-of-range field
E_LENGTH = "length"  # payload length differs from the header (truncated / padded)
E_CHECKSUM = "checksum"  # payload CRC-32 differs from the header
ERROR_CODES = (E_FRAMES, E_TOPIC, E_OVERSIZE, E_HEADER, E_VERSION, E_FIELD, E_LENGTH, E_CHECKSUM)


class BridgeError(ValueError):
    """A message that violates the schema. ``code`` is one of ERROR_CODES."""

    def __init__(self, code: str, reason: str):
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class BridgeMessage:
    """One decoded PDU. Optional fields are None when the radio side does not know them.

    stream: "prompt" (stream-0 text delivered by the ARQ), "edge" (one stream-1 payload),
    "frame" (a per-frame report of the RX); v2: "side" (a stream-0 packet of CDM-JSCC side
    information delivered by the ARQ, binary) and "analog" (one stream-1 frame of analog JSCC
    symbols, complex64 little endian; meta has bool ``first`` / ``last`` and ``noise_var1``).
    seq: the frame number on air (prompt, side: the ARQ's packet sequence number).
    image_id / part / n_parts delimit an image's edge map (part in 0..n_parts-1); a prompt may carry n_parts (its image's part count, 0 = no
    edge map) but no part. crc_ok: CRC verdict (None for stream 1, which has no CRC).
    snr_db: the RX's Es/N0 estimate of the stream. mod: M-QAM order. ber_est: the BER
    expected from snr_db and mod (AWGN theory). evm_db: stream-1 EVM. tx_time / rx_time /
    sent_time: Unix seconds (TX, RX decode, bridge send). meta: other scalar metadata.
    """

    stream: str
    seq: int
    payload: bytes = b""
    image_id: int | None = None
    part: int | None = None
    n_parts: int | None = None
    crc_ok: bool | None = None
    snr_db: float | None = None
    mod: int | None = None
    ber_est: float | None = None
    evm_db: float | None = None
    tx_time: float | None = None
    rx_time: float | None = None
    sent_time: float | None = None
    meta: dict = field(default_factory=dict)


_OPTIONAL = {
    "image_id": "uint",
    "part": "uint",
    "n_parts": "uint",
    "crc_ok": "bool",
    "snr_db": "float",
    "mod": "uint",
    "ber_est": "float",
    "evm_db": "float",
    "tx_time": "float",
    "rx_time": "float",
    "sent_time": "float",
}
_REQUIRED = ("v", "stream", "seq", "len", "crc32")
_KNOWN = set(_REQUIRED) | set(_OPTIONAL) | {"meta"}


def _fail(code: str, reason: str):
    raise BridgeError(code, reason)


def _check_value(name: str, kind: str, value):
    if value is None:
        return None
    if kind == "uint":
        if type(value) is not int or not 0 <= value <= _MAX_INT:
            _fail(E_FIELD, f"field {name!r} must be an integer in 0..2^63-1 or null, got {_short(value)}")
        return value
    if kind == "bool":
        if type(value) is not bool:
            _fail(E_FIELD, f"field {name!r} must be true, false or null, got {_short(value)}")
        return value
    # float: JSON numbers (int or float), finite
    if type(value) not in (int, float) or abs(value) > _MAX_INT or not math.isfinite(value):
        _fail(E_FIELD, f"field {name!r} must be a finite number or null, got {_short(value)}")
    return float(value)


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _check_meta(meta) -> dict:
    if meta is None:
        return {}
    if not isinstance(meta, dict):
        _fail(E_FIELD, f"field 'meta' must be an object, got {type(meta).__name__}")
    if len(meta) > MAX_META_ITEMS:
        _fail(E_FIELD, f"field 'meta' has {len(meta)} items; at most {MAX_META_ITEMS}")
    out = {}
    for k, v in meta.items():
        if not isinstance(k, str) or not 0 < len(k) <= MAX_META_KEY:
            _fail(E_FIELD, f"meta key {_short(k)} must be a string of 1..{MAX_META_KEY} characters")
        if v is None or type(v) in (bool, int):
            if type(v) is int and abs(v) > _MAX_INT:
                _fail(E_FIELD, f"meta {k!r} integer out of range")
        elif type(v) is float:
            if not math.isfinite(v):
                _fail(E_FIELD, f"meta {k!r} must be finite (use null)")
        elif type(v) is str:
            if len(v) > MAX_META_STR:
                _fail(E_FIELD, f"meta {k!r} string longer than {MAX_META_STR} characters")
        else:
            _fail(E_FIELD, f"meta {k!r} must be null, bool, number or string, got {type(v).__name__}")
        out[k] = v
    return out


def _check_fields(h: dict) -> dict:
    """Validate a header dict (as parsed from JSON); returns BridgeMessage kwargs without payload."""
    if "v" not in h:
        _fail(E_VERSION, "header has no version field 'v'")
    if type(h["v"]) is not int or h["v"] not in STREAMS_BY_VERSION:
        _fail(
            E_VERSION,
            f"unsupported bridge version {_short(h['v'])}; this receiver speaks v{', v'.join(map(str, VERSIONS))}",
        )
    version = h["v"]
    unknown = set(h) - _KNOWN
    if unknown:
        _fail(E_FIELD, f"unknown header field(s) {sorted(unknown)[:3]} for v{version}")
    for key in _REQUIRED:
        if key not in h:
            _fail(E_FIELD, f"header lacks required field {key!r}")
    streams = STREAMS_BY_VERSION[version]
    if h["stream"] not in streams:
        _fail(E_FIELD, f"field 'stream' must be one of {streams} in v{version}, got {_short(h['stream'])}")
    out = {"stream": h["stream"]}
    for key in ("seq", "len", "crc32"):
        if h[key] is None:
            _fail(E_FIELD, f"field {key!r} must not be null")
        out[key] = _check_value(key, "uint", h[key])
    if out["crc32"] > 0xFFFFFFFF:
        _fail(E_FIELD, "field 'crc32' must be < 2^32")
    for key, kind in _OPTIONAL.items():
        out[key] = _check_value(key, kind, h.get(key))
    out["meta"] = _check_meta(h.get("meta"))
    part, n = out["part"], out["n_parts"]
    if out["stream"] in ("side", "analog"):
        _check_jscc(out)
    elif out["stream"] == "prompt":  # a prompt may announce how many edge parts its image has (0: none)
        if part is not None:
            _fail(E_FIELD, "prompt messages take no 'part' (only 'n_parts', the image's edge parts)")
        if n is not None and n > MAX_PARTS:
            _fail(E_FIELD, f"n_parts must be <= {MAX_PARTS}, got {n}")
    else:
        if (part is None) != (n is None):
            _fail(E_FIELD, "fields 'part' and 'n_parts' must be given together")
        if n is not None:
            if out["image_id"] is None:
                _fail(E_FIELD, "fields 'part'/'n_parts' need 'image_id'")
            if not 1 <= n <= MAX_PARTS or part >= n:
                _fail(E_FIELD, f"need 0 <= part < n_parts <= {MAX_PARTS}, got part={part} n_parts={n}")
    if out["ber_est"] is not None and not 0.0 <= out["ber_est"] <= 1.0:
        _fail(E_FIELD, "field 'ber_est' must be in [0, 1]")
    return out


def _check_jscc(out: dict) -> None:
    """v2 streams: no edge-part fields; analog frames carry whole complex64 samples and flags."""
    if out["part"] is not None or out["n_parts"] is not None:
        _fail(E_FIELD, f"{out['stream']} messages take no 'part'/'n_parts'")
    if out["stream"] == "analog":
        if out["len"] % ANALOG_SAMPLE_BYTES:
            _fail(E_FIELD, f"analog payload of {out['len']} bytes is not whole complex64 samples")
        meta = out["meta"]
        for flag in ("first", "last"):
            if type(meta.get(flag)) is not bool:
                _fail(E_FIELD, f"analog messages need a boolean meta {flag!r}")


def _reject_constant(name):
    raise BridgeError(E_HEADER, f"header JSON contains {name}; non-finite numbers are not allowed")


def _no_duplicates(pairs):
    d = {}
    for k, v in pairs:
        if k in d:
            raise BridgeError(E_HEADER, f"header JSON repeats key {_short(k)}")
        d[k] = v
    return d


def encode(msg: BridgeMessage, max_bytes: int = DEFAULT_MAX_BYTES) -> list[bytes]:
    """BridgeMessage -> [topic, header JSON, payload]. Raises BridgeError if ``msg`` is invalid."""
    if not isinstance(msg, BridgeMessage):
        _fail(E_FIELD, f"encode() takes a BridgeMessage, got {type(msg).__name__}")
    payload = msg.payload
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        _fail(E_FIELD, f"payload must be bytes, got {type(payload).__name__}")
    payload = bytes(payload)
    header = {
        "v": next((v for v in VERSIONS if msg.stream in STREAMS_BY_VERSION[v]), VERSION),
        "stream": msg.stream,
        "seq": msg.seq,
        "len": len(payload),
        "crc32": zlib.crc32(payload),
    }
    for key in _OPTIONAL:
        value = getattr(msg, key)
        if value is not None:
            header[key] = value
    if msg.meta:
        header["meta"] = msg.meta
    _check_fields(header)
    text = json.dumps(header, separators=(",", ":"), sort_keys=True, allow_nan=False).encode()
    if len(text) > MAX_HEADER_BYTES:
        _fail(E_OVERSIZE, f"header is {len(text)} bytes; at most {MAX_HEADER_BYTES}")
    frames = [TOPIC_PREFIX + msg.stream.encode(), text, payload]
    total = sum(len(f) for f in frames)
    if total > max_bytes:
        _fail(E_OVERSIZE, f"message is {total} bytes; the cap is {max_bytes}")
    return frames


def decode(frames, max_bytes: int = DEFAULT_MAX_BYTES) -> BridgeMessage:
    """[topic, header, payload] (bytes-like frames) -> BridgeMessage, or BridgeError."""
    if isinstance(frames, (bytes, bytearray, memoryview, str)) or not isinstance(frames, (list, tuple)):
        _fail(E_FRAMES, f"expected a multipart message (list of 3 frames), got {type(frames).__name__}")
    if len(frames) != 3:
        _fail(E_FRAMES, f"expected 3 frames (topic, header, payload), got {len(frames)}")
    parts = []
    for f in frames:
        if not isinstance(f, (bytes, bytearray, memoryview)):
            _fail(E_FRAMES, f"frame is {type(f).__name__}, not bytes")
        parts.append(bytes(f))
    topic, head, payload = parts
    total = sum(len(p) for p in parts)
    if total > max_bytes:
        _fail(E_OVERSIZE, f"message is {total} bytes; the cap is {max_bytes}")
    if len(head) > MAX_HEADER_BYTES:
        _fail(E_OVERSIZE, f"header is {len(head)} bytes; at most {MAX_HEADER_BYTES}")
    if not topic.startswith(TOPIC_PREFIX):
        _fail(E_TOPIC, f"topic {_short(topic[:24])} does not start with {TOPIC_PREFIX!r}")
    try:
        text = head.decode("utf-8")
        h = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_no_duplicates)
    except BridgeError:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        _fail(E_HEADER, f"header is not UTF-8 JSON ({type(exc).__name__})")
    if not isinstance(h, dict):
        _fail(E_HEADER, f"header is a JSON {type(h).__name__}, not an object")
    fields = _check_fields(h)
    if topic != TOPIC_PREFIX + fields["stream"].encode():
        _fail(E_TOPIC, f"topic {_short(topic[:24])} does not match stream {fields['stream']!r}")
    if len(payload) != fields["len"]:
        _fail(E_LENGTH, f"payload is {len(payload)} bytes, header says {fields['len']} (truncated?)")
    if zlib.crc32(payload) != fields["crc32"]:
        _fail(E_CHECKSUM, "payload CRC-32 does not match the header (corrupted in transit)")
    del fields["len"], fields["crc32"]
    return BridgeMessage(payload=payload, **fields)


def message_from_pdu(stream: str, meta: dict, payload: bytes, **overrides) -> BridgeMessage:
    """Build a message from gensem PDU metadata (two_stream_rx / prompt_arq_rx key names).

    seq: ``prompt_seq`` for prompts and side information, else ``frame``; snr_db: ``snr0_db``
    (prompt, side, frame) or ``snr1_db`` (edge, analog); crc_ok: True for ARQ deliveries,
    ``crc_ok`` for frame reports, None for stream 1; an analog ``payload`` is the symbols as
    complex64 little-endian bytes; image_id / part / n_parts / tx_time / rx_time / mod /
    evm_db pass through; other scalar keys go to ``meta``. Non-finite numbers become None.
    Raises BridgeError if the result is not a valid message.
    """
    if stream not in STREAMS:
        _fail(E_FIELD, f"stream must be one of {STREAMS}, got {_short(stream)}")

    def num(key):
        v = meta.get(key)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            return None
        return v

    def uint(key):
        v = num(key)
        if v is None or v < 0 or v != int(v):
            return None
        return int(v)

    arq = stream in ("prompt", "side")  # delivered by the stream-0 ARQ: CRC-clean, numbered
    seq_key = "prompt_seq" if arq else "frame"
    seq = uint(seq_key)
    if seq is None:
        _fail(E_FIELD, f"{stream} PDU lacks a non-negative integer {seq_key}")
    crc = meta.get("crc_ok")
    edge_parts = stream in ("edge", "frame")
    kw = {
        "stream": stream,
        "seq": seq,
        "payload": bytes(payload),
        "image_id": uint("image_id"),
        "part": uint("part") if edge_parts else None,
        "n_parts": uint("n_parts") if edge_parts or stream == "prompt" else None,
        "crc_ok": True if arq else (bool(crc) if stream == "frame" and crc is not None else None),
        "snr_db": num("snr1_db" if stream in ("edge", "analog") else "snr0_db"),
        "mod": uint("mod"),
        "evm_db": num("evm_db"),
        "tx_time": num("tx_time"),
        "rx_time": num("rx_time"),
    }
    taken = set(kw) | {"prompt_seq", "frame", "snr0_db", "snr1_db", "crc_ok"}
    extra = {}
    for k, v in meta.items():
        if k in taken or not isinstance(k, str) or len(extra) >= MAX_META_ITEMS:
            continue
        if isinstance(v, float) and not math.isfinite(v):
            v = None
        if v is None or isinstance(v, (bool, int, float)) or (isinstance(v, str) and len(v) <= MAX_META_STR):
            extra[k] = v
    if arq and "frame" in meta:
        extra["frame"] = uint("frame")
    kw["meta"] = extra
    kw.update(overrides)
    msg = BridgeMessage(**kw)
    encode(msg, max_bytes=_MAX_INT)  # validate now, with a one-line reason
    return msg
