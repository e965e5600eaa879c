"""Stop-and-wait ARQ for the prompt stream (Qiao et al. §II-B-1: CRC-based
re-transmission), clocked by frames.

The receiver answers every decoded frame with one feedback record
``{"frame": seq16, "crc_ok": bool | None, "prompt_seq": int, "session": int}``: ``crc_ok``
is None when the frame carried no prompt packet (the record then only says "frame seen",
which is the sender's clock). The sender retransmits on a NACK, or when feedback for a *later*
frame arrives without any for the frame that carried the packet (header lost, or the
ACK/NACK lost on the feedback path). Duplicates are ACKed again and never re-delivered,
so every prompt is delivered exactly once and in order.

Sessions: each sender draws a random 32-bit session id (in the CRC-covered packet). The
receiver de-duplicates per (session, seq), so a restarted transmitter, whose sequence starts
again at 0, is delivered rather than taken for duplicates; an ACK naming another session is
not taken as one for ours (``foreign_acks``). The receiver remembers ``MAX_SESSIONS``
sessions and keeps the last ``MAX_DELIVERED`` deliveries (memory stays bounded).
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field

from gensem.dsp import prompt_packet

SEQ_MOD = 1 << 16
MAX_SESSIONS = 256  # sessions a receiver remembers (the oldest is forgotten first)
MAX_DELIVERED = 1024  # deliveries a receiver keeps for inspection (counters count them all)


def new_session() -> int:
    """A random, non-zero 32-bit session id (0 is what an unset field reads as)."""
    return secrets.randbits(32) or 1


@dataclass
class PromptOutcome:
    seq: int
    text: str
    payload: bytes = field(default=b"", repr=False)
    transmissions: int = 0
    delivered: bool = False  # ACK seen by the sender
    failed: bool = False
    reason: str = ""
    frames: list = field(default_factory=list)


class StopAndWaitSender:
    def __init__(self, max_retries: int = 32, session: int | None = None, first_seq: int = 0):
        """``first_seq``: the first prompt's sequence number (an image's id is its prompt's
        number, so a caller that must know it before the run picks it)."""
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self.max_retries = int(max_retries)
        self.session = new_session() if session is None else int(session) & 0xFFFFFFFF
        self.queue: deque[PromptOutcome] = deque()
        self.outcomes: deque[PromptOutcome] = deque(maxlen=MAX_DELIVERED)  # the latest, bounded
        self.finished = 0  # prompts finished (ACKed or given up), all of them
        self.current: PromptOutcome | None = None
        self._packet = b""
        self._sent_frame = -1  # absolute frame number of the last transmission
        self._need_tx = False
        self._sent_time = 0.0
        self.progress = -1  # highest absolute frame number the receiver reported
        self._next_seq = int(first_seq) % SEQ_MOD
        self.acks = self.nacks = self.timeouts = self.foreign_acks = 0

    # -- user side
    def submit(self, text: str, n_parts: int | None = None, colour: bytes | None = None) -> int:
        """Queue a prompt; with ``n_parts`` it goes as an image prompt (its edge-part count),
        with ``colour`` also carrying the image's colour layout."""
        payload = prompt_packet.prompt_payload(text, n_parts, colour)  # raises ValueError on bad input
        item = PromptOutcome(seq=self._next_seq, text=text, payload=payload)
        self._next_seq = (self._next_seq + 1) % SEQ_MOD
        self.queue.append(item)
        return item.seq

    def submit_bytes(self, data: bytes) -> int:
        """Queue a binary packet payload (e.g. a fragment of CDM-JSCC side information)."""
        data = bytes(data)
        if not 0 < len(data) <= prompt_packet.MAX_PROMPT_BYTES:
            raise ValueError(
                f"stream-0 payload of {len(data)} bytes outside 1..{prompt_packet.MAX_PROMPT_BYTES}"
            )
        item = PromptOutcome(seq=self._next_seq, text="", payload=data)
        self._next_seq = (self._next_seq + 1) % SEQ_MOD
        self.queue.append(item)
        return item.seq

    @property
    def idle(self) -> bool:
        return self.current is None and not self.queue

    # -- feedback
    def on_feedback(self, frame_abs: int, crc_ok, prompt_seq: int | None = None, session: int | None = None):
        """``session``: the receiver's echo of the packet's session (None: not reported)."""
        self.progress = max(self.progress, frame_abs)
        cur = self.current
        if cur is None or crc_ok is None:
            return
        if crc_ok and session is not None and int(session) != self.session:
            self.foreign_acks += 1  # another transmitter's ACK (or a forged one): not ours
            return
        if crc_ok and prompt_seq == cur.seq:
            self.acks += 1
            cur.delivered = True
            self._finish()
        elif not crc_ok and frame_abs == self._sent_frame:
            self.nacks += 1
            self._need_tx = True

    def _finish(self):
        self.finished += 1
        self.outcomes.append(self.current)
        self.current = None

    def expire(self, now: float, timeout: float) -> bool:
        """Wall-clock timeout (over the air, no frame clock): retransmit when no
        feedback came within ``timeout`` seconds. Returns True when it fired."""
        if self.current is not None and not self._need_tx and now - self._sent_time > timeout:
            self.timeouts += 1
            self._need_tx = True
            return True
        return False

    # -- frame clock
    def packet_for_frame(self, frame_abs: int) -> tuple[int, bytes] | None:
        """Called as frame ``frame_abs`` is built; returns (seq, packet) to put in it."""
        cur = self.current
        if cur is not None and not self._need_tx and self.progress >= self._sent_frame:
            # a later frame was reported but nothing for ours: lost frame or lost ACK
            self.timeouts += 1
            self._need_tx = True
        if cur is not None and self._need_tx and cur.transmissions > self.max_retries:
            cur.failed = True
            cur.reason = f"no ACK after {cur.transmissions} transmissions"
            self._finish()
            cur = None
        if cur is None and self.queue:
            cur = self.current = self.queue.popleft()
            self._packet = prompt_packet.build(cur.seq, cur.payload, self.session)
            self._need_tx = True
        if cur is None or not self._need_tx:
            return None
        cur.transmissions += 1
        cur.frames.append(frame_abs)
        self._sent_frame = frame_abs
        self._sent_time = time.monotonic()
        self._need_tx = False
        return cur.seq, self._packet


class StopAndWaitReceiver:
    def __init__(self):
        self.last_seq: OrderedDict[int, int] = OrderedDict()  # session -> last delivered seq
        self.delivered: deque[tuple[int, bytes]] = deque(maxlen=MAX_DELIVERED)
        self.delivered_count = 0
        self.crc_failures = 0
        self.duplicates = 0
        self.sessions = 0  # sessions seen (a restarted transmitter is a new one)
        self.session: int | None = None  # the session of the latest delivery

    def on_frame(self, frame_seq: int, has_prompt: bool, crc_ok: bool, packet: bytes | None):
        """Returns (feedback record, newly delivered (seq, payload) or None)."""
        if not has_prompt:
            return {"frame": frame_seq, "crc_ok": None, "prompt_seq": -1}, None
        parsed = prompt_packet.parse(packet) if crc_ok and packet else None
        if parsed is None:
            self.crc_failures += 1
            return {"frame": frame_seq, "crc_ok": False, "prompt_seq": -1}, None
        session, seq, payload = parsed
        fb = {"frame": frame_seq, "crc_ok": True, "prompt_seq": seq, "session": session}
        last = self.last_seq.get(session)
        if last is None:
            self.sessions += 1
        elif not 0 < (seq - last) % SEQ_MOD < SEQ_MOD // 2:
            self.duplicates += 1
            return fb, None
        self.last_seq[session] = seq
        self.last_seq.move_to_end(session)
        while len(self.last_seq) > MAX_SESSIONS:
            self.last_seq.popitem(last=False)
        self.session = session
        self.delivered.append((seq, payload))
        self.delivered_count += 1
        return fb, (seq, payload)


def unwrap_frame(seq16: int, reference_abs: int) -> int:
    """Absolute frame number nearest to (and not after) ``reference_abs`` with these
    low 16 bits."""
    base = reference_abs - ((reference_abs - seq16) % SEQ_MOD)
    return base
