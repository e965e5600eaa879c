"""Receiver end of the ZeroMQ bridge: subscribe, validate, assemble images.

Runs on the GPU host, which has no GNU Radio: imports only pyzmq and the stdlib-only
``gensem.core.bridge_schema``. Every message is validated (``schema.decode``); a bad one is
counted under its error code and skipped. ``ImageAssembler`` groups messages per image:
the prompt (stream 0) and the stream-1 edge-map parts 0..n_parts-1, and emits a
``SemanticMessage`` once the prompt and every part are in. An image still incomplete after
``timeout_s`` is reported; if its prompt arrived it is still delivered, with the lost edge
parts zero-filled and listed in ``missing_parts`` (the edge codec decodes zero bytes into a
blank region; no part at all, e.g. M1 = 0, gives a prompt-only image), otherwise it is dropped. All queues are bounded.
See docs/bridge.md.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, OrderedDict, deque
from dataclasses import dataclass, field

import zmq

from gensem.core.bridge_schema import DEFAULT_MAX_BYTES, BridgeError, BridgeMessage, decode

log = logging.getLogger("receiver_ai.bridge")

PATTERNS = {"sub": zmq.SUB, "pull": zmq.PULL}


@dataclass(frozen=True)
class EdgePart:
    """Facts about one stream-1 payload of an image's edge map."""

    part: int
    seq: int
    n_bytes: int
    mod: int | None
    snr_db: float | None
    ber_est: float | None
    evm_db: float | None
    crc_ok: bool | None
    rx_time: float | None


@dataclass
class SemanticMessage:
    """A complete image's semantics: the prompt and the edge-map bytes (parts in order)."""

    image_id: int
    prompt: str
    prompt_seq: int
    prompt_snr_db: float | None
    edge_bytes: bytes
    parts: list[EdgePart]
    first_seen: float  # receiver clock (time.monotonic) of the image's first message
    completed: float  # receiver clock when the last piece arrived
    missing_parts: list[int] = field(default_factory=list)  # zero-filled (lost on the air)
    colour_layout: bytes | None = None  # the image's colour layout (core.colour_layout), if sent

    @property
    def n_parts(self) -> int:
        return len(self.parts) + len(self.missing_parts)

    @property
    def edge_bits(self) -> int:
        return 8 * len(self.edge_bytes)

    @property
    def ber_est(self) -> float | None:
        """Bit-weighted mean of the parts' estimated BER (None if a part has no estimate)."""
        if not self.parts:
            return 0.0
        if any(p.ber_est is None for p in self.parts):
            return None
        bits = sum(p.n_bytes for p in self.parts)
        return sum(p.ber_est * p.n_bytes for p in self.parts) / bits if bits else 0.0

    @property
    def assembly_s(self) -> float:
        return self.completed - self.first_seen


@dataclass
class _Pending:
    image_id: int
    first_seen: float
    prompt: BridgeMessage | None = None
    n_parts: int | None = None
    parts: dict = field(default_factory=dict)  # part -> BridgeMessage

    def complete(self) -> bool:
        return self.prompt is not None and self.n_parts is not None and len(self.parts) == self.n_parts


class ImageAssembler:
    """Groups validated bridge messages (prompt + edge-map system) into ``SemanticMessage``s.

    Image key: ``image_id``; a prompt without one takes its ARQ ``prompt_seq`` (the ARQ
    numbers prompts, one per image). An image is complete with its prompt and parts
    0..n_parts-1 (n_parts from the parts, or from the prompt; n_parts 0 on a prompt means
    prompt only). Counters: ``completed``, ``timeouts``, ``evicted`` (pending images beyond
    ``max_pending``, oldest first), ``duplicates``, ``inconsistent`` (n_parts disagree),
    ``late`` (pieces of an image already finished), ``untagged_edge`` (stream-1 payloads
    without image_id/part/n_parts: they cannot be placed), ``frame_reports``,
    ``bad_prompt`` (not UTF-8, or empty in a prompt that announces neither edges nor a colour
    layout), ``partial`` (timed-out images with a prompt, delivered
    with zero-filled parts or prompt-only; ``emit_partial=False`` drops them instead).

    Sessions: a prompt's ``meta["session"]`` is its transmitter run's ARQ session. A restarted
    transmitter numbers its prompts (and so its image ids) from 0 again; its first prompt
    starts a new session here (``new_session``): the finished ids are forgotten, so the new
    images are not taken for late pieces, and pending images whose prompt came from the old
    session are dropped and counted (``session_dropped``).
    """

    def __init__(
        self,
        max_pending: int = 64,
        timeout_s: float = 10.0,
        clock=time.monotonic,
        history: int = 256,
        emit_partial: bool = True,
    ):
        if max_pending < 1 or timeout_s <= 0:
            raise ValueError("max_pending must be >= 1 and timeout_s > 0")
        self.max_pending = int(max_pending)
        self.timeout_s = float(timeout_s)
        self.clock = clock
        self.pending: OrderedDict[int, _Pending] = OrderedDict()
        self.finished: OrderedDict[int, None] = OrderedDict()  # recent image ids done, bounded
        self.history = int(history)
        self.counters = Counter()
        self.timed_out: deque = deque(maxlen=32)  # reports of the latest timeouts
        self.emit_partial = bool(emit_partial)
        self.partial: deque[SemanticMessage] = deque(maxlen=32)  # timed-out images, zero-filled
        self.last_frame: BridgeMessage | None = None
        self.session: int | None = None

    COUNTER_KEYS = (
        "completed",
        "timeouts",
        "evicted",
        "duplicates",
        "inconsistent",
        "late",
        "untagged_edge",
        "bad_prompt",
        "frame_reports",
        "partial",
        "ignored",
        "new_session",
        "session_dropped",
    )

    def add(self, msg: BridgeMessage) -> SemanticMessage | None:
        if msg.stream in ("side", "analog"):  # CDM-JSCC streams: receiver_ai.jscc_assembler
            self.counters["ignored"] += 1
            return None
        if msg.stream == "frame":
            self.counters["frame_reports"] += 1
            self.last_frame = msg
            return None
        if msg.stream == "edge" and msg.part is None:
            self.counters["untagged_edge"] += 1
            return None
        if msg.stream == "prompt":
            try:
                text = msg.payload.decode("utf-8")
            except UnicodeDecodeError:
                text = ""
            # an image sent without a prompt (its edges and/or colour layout only) is fine
            image_only = bool(msg.n_parts) or _colour_of(msg) is not None
            if not text.strip() and not image_only:
                self.counters["bad_prompt"] += 1
                return None
            self._check_session(msg.meta.get("session"))
        image_id = msg.image_id if msg.image_id is not None else msg.seq
        if image_id in self.finished:
            self.counters["late"] += 1
            return None
        now = self.clock()
        p = self.pending.get(image_id)
        if p is None:
            p = self.pending[image_id] = _Pending(image_id, now)
            while len(self.pending) > self.max_pending:
                old_id, _ = self.pending.popitem(last=False)
                self.counters["evicted"] += 1
                self._finish(old_id)
        if msg.n_parts is not None:
            if p.n_parts is not None and p.n_parts != msg.n_parts:
                self.counters["inconsistent"] += 1
                return None
            p.n_parts = msg.n_parts
        if msg.stream == "prompt":
            if p.prompt is not None:
                self.counters["duplicates"] += 1
                return None
            p.prompt = msg
        else:
            if msg.part in p.parts:
                self.counters["duplicates"] += 1
                return None
            p.parts[msg.part] = msg
        if not p.complete():
            return None
        del self.pending[image_id]
        self._finish(image_id)
        self.counters["completed"] += 1
        return self._message(p, now)

    def _check_session(self, session):
        if not isinstance(session, int) or session == self.session:
            return
        if self.session is not None:
            self.counters["new_session"] += 1
            self.finished.clear()
            for image_id in [i for i, p in self.pending.items() if p.prompt is not None]:
                del self.pending[image_id]
                self.counters["session_dropped"] += 1
        self.session = session

    @staticmethod
    def _message(p: _Pending, now: float) -> SemanticMessage:
        """The image's message; missing parts become zero bytes of the largest part's size
        (a lost last part's length is unknown; the codec ignores trailing zeros)."""
        size = max(len(m.payload) for m in p.parts.values()) if p.parts else 0
        missing = [i for i in range(p.n_parts or 0) if i not in p.parts]
        payloads, facts = [], []
        for i in range(p.n_parts or 0):
            m = p.parts.get(i)
            payloads.append(m.payload if m is not None else bytes(size))
            if m is not None:
                facts.append(
                    EdgePart(
                        i, m.seq, len(m.payload), m.mod, m.snr_db, m.ber_est, m.evm_db, m.crc_ok, m.rx_time
                    )
                )
        return SemanticMessage(
            image_id=p.image_id,
            prompt=p.prompt.payload.decode("utf-8"),
            prompt_seq=p.prompt.seq,
            prompt_snr_db=p.prompt.snr_db,
            edge_bytes=b"".join(payloads),
            parts=facts,
            first_seen=p.first_seen,
            completed=now,
            missing_parts=missing,
            colour_layout=_colour_of(p.prompt),
        )

    def _finish(self, image_id):
        self.finished[image_id] = None
        while len(self.finished) > self.history:
            self.finished.popitem(last=False)

    def expire(self, now: float | None = None) -> list[dict]:
        """Drop images pending longer than ``timeout_s``; returns (and keeps) their reports."""
        now = self.clock() if now is None else now
        out = []
        for image_id in list(self.pending):
            p = self.pending[image_id]
            if now - p.first_seen < self.timeout_s:
                continue
            del self.pending[image_id]
            self._finish(image_id)
            self.counters["timeouts"] += 1
            rec = {
                "image_id": image_id,
                "have_prompt": p.prompt is not None,
                "parts": len(p.parts),
                "n_parts": p.n_parts,
                "missing": sorted(set(range(p.n_parts)) - set(p.parts))[:16] if p.n_parts else None,
                "age_s": round(now - p.first_seen, 3),
            }
            if self.emit_partial and p.prompt is not None:
                self.counters["partial"] += 1
                rec["delivered_partial"] = True
                self.partial.append(self._message(p, now))
            self.timed_out.append(rec)
            out.append(rec)
            log.warning("bridge: image %s timed out incomplete: %s", image_id, rec)
        return out


class BridgeClient:
    """Subscribe (SUB) or pull (PULL) bridge messages and yield complete images.

    ``endpoint`` e.g. ``tcp://radio-host:5555`` (connect; the radio binds) or, with
    ``bind=True``, ``tcp://*:5555``. ``shard=(i, k)`` keeps only images with
    image_id % k == i (several GPU receivers on one PUB radio, one image each).
    Complete images wait in a queue of ``queue_len`` (the oldest is dropped when full,
    counted as ``queue_dropped``). ``stats()`` has every counter. ``assembler``: what turns
    messages into images, ``ImageAssembler`` (default; prompt + edge map) or
    ``receiver_ai.jscc_assembler.JsccAssembler`` (CDM-JSCC; no sharding).
    """

    def __init__(
        self,
        endpoint: str,
        pattern: str = "sub",
        bind: bool = False,
        max_bytes: int = DEFAULT_MAX_BYTES,
        queue_len: int = 16,
        max_pending: int = 64,
        timeout_s: float = 10.0,
        shard: tuple[int, int] | None = None,
        rcvhwm: int = 1000,
        context: zmq.Context | None = None,
        assembler=None,
        curve_keys: str | None = None,
    ):
        """``curve_keys``: a ``gensem keys`` directory: CURVE authentication and encryption
        (``gensem.core.zmq_security``; the binding side is the server). A bad key file is a
        one-line ValueError."""
        pattern = str(pattern).lower()
        if pattern not in PATTERNS:
            raise ValueError(f"pattern must be 'sub' or 'pull', got {pattern!r}")
        if queue_len < 1:
            raise ValueError("queue_len must be >= 1")
        if shard is not None and not (len(shard) == 2 and 0 <= shard[0] < shard[1]):
            raise ValueError(f"shard must be (i, k) with 0 <= i < k, got {shard!r}")
        self.max_bytes = int(max_bytes)
        self.shard = tuple(shard) if shard else None
        self.assembler = assembler or ImageAssembler(max_pending=max_pending, timeout_s=timeout_s)
        self.queue: deque[SemanticMessage] = deque(maxlen=int(queue_len))
        self.bad = Counter()  # BridgeError code -> count
        self.counters = Counter()
        self.endpoint = endpoint
        self._ctx = context or zmq.Context.instance()
        self.sock = self._ctx.socket(PATTERNS[pattern])
        self.sock.setsockopt(zmq.RCVHWM, int(rcvhwm))
        self.sock.setsockopt(zmq.LINGER, 0)
        # a peer that sends a frame over the schema's cap is disconnected before it is buffered
        self.sock.setsockopt(zmq.MAXMSGSIZE, self.max_bytes)
        if pattern == "sub":
            self.sock.setsockopt(zmq.SUBSCRIBE, b"gensem/")
        try:
            from gensem.core.zmq_security import secure

            secure(self.sock, curve_keys or "", server=bind)
        except ValueError:
            self.sock.close(0)
            raise
        try:
            (self.sock.bind if bind else self.sock.connect)(endpoint)
        except zmq.ZMQError as exc:
            self.sock.close(0)
            raise ValueError(f"cannot {'bind' if bind else 'connect'} {endpoint!r}: {exc}") from None
        self.endpoint = self.sock.getsockopt(zmq.LAST_ENDPOINT).decode() or endpoint

    def handle(self, frames) -> SemanticMessage | None:
        """Validate and assemble one received multipart message; never raises."""
        self.counters["received"] += 1
        try:
            msg = decode(frames, self.max_bytes)
        except BridgeError as exc:
            self.bad[exc.code] += 1
            log.debug("bridge: skipped bad message (%s): %s", exc.code, exc)
            return None
        self.counters["valid"] += 1
        if self.shard and msg.stream in ("prompt", "edge"):
            image_id = msg.image_id if msg.image_id is not None else msg.seq
            if image_id % self.shard[1] != self.shard[0]:
                self.counters["other_shard"] += 1
                return None
        done = self.assembler.add(msg)
        if done is not None:
            if len(self.queue) == self.queue.maxlen:
                self.counters["queue_dropped"] += 1
            self.queue.append(done)
        return done

    def poll(self, timeout_s: float = 0.0, max_messages: int = 10_000) -> int:
        """Receive what arrives within ``timeout_s`` (stops early once an image is queued);
        expire stale images. Returns the number of messages read."""
        deadline = time.monotonic() + max(0.0, timeout_s)
        n = 0
        while n < max_messages:
            wait_ms = max(0, int((deadline - time.monotonic()) * 1000))
            if not self.sock.poll(wait_ms if not self.queue else 0):
                break
            try:
                frames = self.sock.recv_multipart(flags=zmq.NOBLOCK, copy=True)
            except zmq.Again:
                break
            n += 1
            self.handle(frames)
        self.assembler.expire()
        while self.assembler.partial:
            if len(self.queue) == self.queue.maxlen:
                self.counters["queue_dropped"] += 1
            self.queue.append(self.assembler.partial.popleft())
        return n

    def get(self, timeout_s: float | None = None) -> SemanticMessage | None:
        """The next complete image, waiting up to ``timeout_s`` (None: forever)."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while not self.queue:
            left = 0.25 if deadline is None else min(0.25, deadline - time.monotonic())
            if left <= 0:
                return None
            self.poll(left)
        return self.queue.popleft()

    def __iter__(self):
        while True:
            yield self.get()

    def stats(self) -> dict:
        a = self.assembler
        return {
            **{k: self.counters[k] for k in ("received", "valid", "other_shard", "queue_dropped")},
            "bad": dict(self.bad),
            "bad_total": sum(self.bad.values()),
            "images": {k: a.counters[k] for k in a.COUNTER_KEYS},
            "pending": len(a.pending),
            "queued": len(self.queue),
            "timed_out": list(a.timed_out),
        }

    def close(self):
        self.sock.close(0)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _colour_of(prompt) -> bytes | None:
    """The colour layout an image prompt carried (base64 in its bridge meta), or None; text
    that is not base64 gives None (the receiver then generates from the rest)."""
    from gensem.core.colour_layout import from_meta

    text = (prompt.meta or {}).get("colour_layout") if prompt is not None else None
    if not isinstance(text, str) or not text:
        return None
    try:
        return from_meta(text)
    except ValueError:
        return None
