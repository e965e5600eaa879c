"""receiver_ai.jscc_assembler: CDM-JSCC images from bridge v2 messages (no GNU Radio)."""

import numpy as np
import pytest
from gensem.core import jscc_container
from gensem.core.bridge_schema import BridgeMessage, decode, encode

from receiver_ai.jscc_assembler import JsccAssembler

K = 100  # symbols per analog frame


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def _symbols(n, seed):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(n) + 1j * rng.standard_normal(n)).astype(np.complex64)


def side_msgs(side: bytes, n_sym: int, seq0: int, max_packet=40):
    """Stream-0 deliveries of one container, through encode/decode like the real bridge."""
    packets = jscc_container.fragment(side, n_sym, max_packet)
    return [decode(encode(BridgeMessage("side", seq0 + i, p, crc_ok=True))) for i, p in enumerate(packets)]


def analog_msgs(sym: np.ndarray, frame0: int, noise_var=0.01):
    n = -(-sym.size // K)
    out = []
    for i in range(n):
        chunk = sym[i * K : (i + 1) * K].astype("<c8")
        meta = {"first": i == 0, "last": i == n - 1, "noise_var1": noise_var}
        out.append(
            decode(encode(BridgeMessage("analog", frame0 + i, chunk.tobytes(), snr_db=20.0, meta=meta)))
        )
    return out


def feed(asm, msgs):
    return [img for img in (asm.add(m) for m in msgs) if img is not None]


def test_two_images_in_order_bit_exact():
    asm = JsccAssembler(clock=Clock())
    images = []
    for k in range(2):
        side, sym = bytes(range(k, 90 + k)), _symbols(250 + 50 * k, k)
        # side information and symbols interleave on air; the image completes with its last piece
        s, a = side_msgs(side, sym.size, seq0=3 * k), analog_msgs(sym, frame0=10 * k)
        got = feed(asm, [s[0], a[0], s[1], a[1], *s[2:], *a[2:]])
        assert len(got) == 1
        img = got[0]
        assert img.image_id == k and img.side_info == side and np.array_equal(img.symbols, sym)
        assert img.lost_symbols == 0 and img.partial is None and img.frames == len(a)
        assert img.snr_db == pytest.approx(20.0) and img.side_packets == len(s)
        images.append(img)
    assert asm.counters["completed"] == 2 and not asm.pending


def test_lost_frames_are_zero_filled_and_a_lost_last_frame_closes_on_the_next_run():
    asm = JsccAssembler(clock=Clock())
    sym1, sym2 = _symbols(350, 1), _symbols(300, 2)
    a1, a2 = analog_msgs(sym1, 0), analog_msgs(sym2, 4)
    feed(asm, side_msgs(b"one" * 20, sym1.size, 0))
    assert feed(asm, [a1[0], a1[2]]) == []  # frame 1 lost, last frame (3) lost: run still open
    got = feed(asm, side_msgs(b"two" * 20, sym2.size, 2) + a2)  # next run's first frame closes it
    assert [g.image_id for g in got] == [0, 1]
    first = got[0]
    assert first.lost_symbols == 150 and first.lost_ranges == [(100, 200), (300, 350)]
    assert np.array_equal(first.symbols[:100], sym1[:100]) and not first.symbols[100:200].any()
    assert np.array_equal(got[1].symbols, sym2)


def test_arq_gap_orphans_bad_containers_and_other_streams_are_counted():
    clock = Clock()
    asm = JsccAssembler(timeout_s=5, clock=clock)
    s = side_msgs(b"x" * 100, 200, 0)
    assert len(s) >= 3
    feed(asm, [s[0], s[2]])  # packet 1 given up by the ARQ: a gap, and s[2] is an orphan
    assert asm.counters["side_gap"] == 1 and asm.counters["side_orphan"] == 1
    bad = BridgeMessage("side", 7, jscc_container.PREFIX + b"\x00\x05\x00\x00\x00\x00")  # 0 symbols
    feed(asm, [bad])
    assert asm.counters["side_bad"] == 1
    feed(asm, [BridgeMessage("prompt", 1, b"a cat", crc_ok=True), BridgeMessage("frame", 3, b"")])
    assert asm.counters["ignored"] == 1 and asm.counters["frame_reports"] == 1
    # the symbols of the lost container wait, then are dropped (no side info: undecodable)
    feed(asm, analog_msgs(_symbols(200, 0), 0))
    assert len(asm.pending) == 1
    clock.t = 6.0
    report = asm.expire()
    assert asm.counters["runs_unpaired"] == 1 and not asm.pending and report[0]["frames"] == 2
    assert asm.counters["completed"] == 0 and not asm.partial


def test_side_information_without_symbols_is_delivered_partial_after_the_timeout():
    clock = Clock()
    asm = JsccAssembler(timeout_s=2, clock=clock)
    feed(asm, side_msgs(b"y" * 50, 300, 0))
    clock.t = 1.0
    assert asm.expire() == [] and not asm.partial
    clock.t = 2.5
    asm.expire()
    img = asm.partial.popleft()
    assert img.partial == "no symbols arrived" and img.lost_symbols == 300 and not img.symbols.any()
    assert asm.counters["partial"] == 1 and asm.counters["timeouts"] == 1
    off = JsccAssembler(timeout_s=2, clock=clock, emit_partial=False)
    feed(off, side_msgs(b"y" * 50, 300, 0))
    clock.t = 5.0
    off.expire()
    assert not off.partial and off.counters["timeouts"] == 1


def test_a_run_whose_last_frame_is_lost_is_closed_by_the_timeout():
    clock = Clock()
    asm = JsccAssembler(timeout_s=1, clock=clock)
    sym = _symbols(250, 3)
    a = analog_msgs(sym, 0)
    assert feed(asm, side_msgs(b"z" * 30, sym.size, 0) + a[:-1]) == []
    clock.t = 1.5
    asm.expire()
    img = asm.partial.popleft()  # complete but for the last frame: paired when the run closed
    assert img.lost_ranges == [(200, 250)] and np.array_equal(img.symbols[:200], sym[:200])
    assert asm.counters["completed"] == 1


def test_queues_are_bounded():
    clock = Clock()
    asm = JsccAssembler(max_pending=2, max_frames=3, clock=clock)
    for k in range(4):
        feed(asm, side_msgs(bytes([k]) * 20, 100, 2 * k))
    assert len(asm.pending) == 2 and asm.counters["evicted"] == 2
    sym = _symbols(5 * K, 0)
    a = analog_msgs(sym, 0)
    for m in a[:-1]:  # no last flag: the run would grow without end
        asm.add(m)
    assert asm.counters["run_overflow"] == 1
    with pytest.raises(ValueError):
        JsccAssembler(timeout_s=0)


def test_a_run_whose_side_information_was_lost_is_not_paired_with_the_next_image():
    """Image 0's side information is lost (ARQ gap); its symbols arrive. Image 1's container
    must pair with image 1's run, not image 0's: the symbol counts tell them apart."""
    asm = JsccAssembler(clock=Clock())
    sym0, sym1 = _symbols(300, 0), _symbols(250, 1)
    s0 = side_msgs(b"zero" * 20, sym0.size, 0)
    feed(asm, [s0[0]])  # the rest of image 0's container never arrives: the ARQ gave up
    assert feed(asm, analog_msgs(sym0, 0)) == []
    got = feed(asm, side_msgs(b"one" * 20, sym1.size, len(s0) + 1) + analog_msgs(sym1, 3))
    assert len(got) == 1 and got[0].side_info == b"one" * 20 and np.array_equal(got[0].symbols, sym1)
    assert asm.counters["mismatch"] == 1 and asm.counters["side_gap"] == 1 and not asm.pending
