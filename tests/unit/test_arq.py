import numpy as np
from gensem.dsp import prompt_packet
from gensem.dsp.arq import StopAndWaitReceiver, StopAndWaitSender, unwrap_frame


def _simulate(texts, frame_loss, ack_loss, seed, max_retries=32, delay=3):
    """Frame-clocked simulation: frame n's feedback reaches the sender before frame n+delay."""
    rng = np.random.default_rng(seed)
    tx, rx = StopAndWaitSender(max_retries), StopAndWaitReceiver()
    for t in texts:
        tx.submit(t)
    in_flight = []
    n = 0
    while (not tx.idle or in_flight) and n < 10000:
        while in_flight and in_flight[0][0] <= n - delay:
            _, fb = in_flight.pop(0)
            if fb is not None:
                tx.on_feedback(fb["frame"], fb["crc_ok"], fb["prompt_seq"])
        if tx.progress < n - 2 * delay:  # the block's stall timeout: no feedback at all
            tx.expire(float("inf"), 0.0)
        pk = tx.packet_for_frame(n)
        fb = None
        if rng.random() >= frame_loss:  # frame header decoded
            corrupt = pk is not None and rng.random() < 0.3
            data = pk[1] if pk else None
            if corrupt:
                data = bytes([data[0] ^ 1]) + data[1:]
            fb, _ = rx.on_frame(n, pk is not None, pk is not None and not corrupt, data)
            if rng.random() < ack_loss:
                fb = None
        in_flight.append((n, fb))
        n += 1
    return tx, rx


def test_exactly_once_in_order_under_losses():
    texts = [f"prompt number {i}" for i in range(30)]
    for seed in range(5):
        tx, rx = _simulate(texts, frame_loss=0.2, ack_loss=0.3, seed=seed)
        assert [p.decode() for _, p in rx.delivered] == texts
        assert all(o.delivered for o in tx.outcomes)
        assert rx.duplicates > 0 or tx.timeouts > 0


def test_bounded_retries_reports_failure():
    tx, rx = _simulate(["never gets through"], frame_loss=1.0, ack_loss=0.0, seed=0, max_retries=5)
    (o,) = tx.outcomes
    assert o.failed and o.transmissions == 6 and "no ACK" in o.reason
    assert list(rx.delivered) == []


def test_nack_on_bad_crc():
    rx = StopAndWaitReceiver()
    pk = bytearray(prompt_packet.build(0, b"hello"))
    pk[-1] ^= 0xFF
    fb, new = rx.on_frame(5, True, False, bytes(pk))
    assert fb == {"frame": 5, "crc_ok": False, "prompt_seq": -1} and new is None
    assert rx.crc_failures == 1


def test_unwrap_frame():
    assert unwrap_frame(3, 70000) == 65536 + 3
    assert unwrap_frame(65535, 65536 + 2) == 65535


def _deliver(tx, rx, frames=20):
    """Run ``tx`` against ``rx`` over a clean channel; returns the payloads rx delivered."""
    got = []
    for f in range(frames):
        pk = tx.packet_for_frame(f)
        fb, new = rx.on_frame(f & 0xFFFF, pk is not None, True, pk[1] if pk else None)
        tx.on_feedback(f, fb["crc_ok"], fb["prompt_seq"], fb.get("session"))
        if new:
            got.append(new[1].decode())
    return got


def test_restarted_sender_is_a_new_session_not_a_duplicate():
    from gensem.dsp.arq import StopAndWaitReceiver, StopAndWaitSender

    rx = StopAndWaitReceiver()
    first, second = StopAndWaitSender(session=11), StopAndWaitSender(session=22)
    first.submit("a dog on a beach")
    second.submit("a red car")  # also seq 0: before sessions, the receiver took it as a duplicate
    assert _deliver(first, rx) == ["a dog on a beach"]
    assert _deliver(second, rx) == ["a red car"]
    assert rx.sessions == 2 and rx.duplicates == 0 and second.outcomes[0].delivered
    # a retransmission inside one session is still a duplicate
    again = StopAndWaitSender(session=22)
    again.submit("a red car")
    assert _deliver(again, rx) == [] and rx.duplicates == 1


def test_ack_of_another_session_is_not_taken_and_sessions_are_random():
    from gensem.dsp.arq import MAX_SESSIONS, StopAndWaitReceiver, StopAndWaitSender

    tx = StopAndWaitSender(session=5)
    tx.submit("hello")
    tx.packet_for_frame(0)
    tx.on_feedback(0, True, 0, session=6)  # forged, or another transmitter's
    assert tx.current is not None and tx.foreign_acks == 1
    tx.on_feedback(0, True, 0, session=5)
    assert tx.current is None and tx.outcomes[0].delivered
    assert len({StopAndWaitSender().session for _ in range(8)}) == 8
    rx = StopAndWaitReceiver()  # memory stays bounded however many transmitters come and go
    from gensem.dsp import prompt_packet

    for s in range(MAX_SESSIONS + 10):
        rx.on_frame(0, True, True, prompt_packet.build(0, b"x", session=s + 1))
    assert len(rx.last_seq) == MAX_SESSIONS and rx.delivered_count == MAX_SESSIONS + 10


def test_first_seq_sets_the_image_id_a_caller_must_know_in_advance():
    from gensem.dsp.arq import StopAndWaitReceiver, StopAndWaitSender

    tx, rx = StopAndWaitSender(first_seq=65535), StopAndWaitReceiver()
    assert [tx.submit("a"), tx.submit("b")] == [65535, 0]  # wraps like the 16-bit field
    assert _deliver(tx, rx) == ["a", "b"]
