"""gensem.core.bridge_client: validation counters, image assembly, PUB/SUB and PUSH/PULL."""

import os
import subprocess
import sys
import time

import pytest
import zmq
from gensem.core.bridge_client import BridgeClient, ImageAssembler
from gensem.core.bridge_schema import BridgeMessage, encode
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_bridge_schema import any_message

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def prompt(image_id, text="a red car", n_parts=None, seq=0):
    return BridgeMessage(
        "prompt", seq, text.encode(), image_id=image_id, n_parts=n_parts, crc_ok=True, snr_db=5.0
    )


def part(image_id, i, n, data, seq=None, ber=1e-4):
    return BridgeMessage(
        "edge",
        seq if seq is not None else 100 + i,
        data,
        image_id=image_id,
        part=i,
        n_parts=n,
        mod=16,
        snr_db=14.0,
        ber_est=ber,
    )


def test_receiver_ai_does_not_import_gnuradio():
    code = "import sys, gensem.core.bridge_client, gensem.core.metrics, receiver_ai.cli, receiver_ai.models.edge_unet, receiver_ai.pipelines.edge_diffusion, receiver_ai.pipelines.controlnet, receiver_ai.jscc_assembler, gensem.core.cdm_jscc.receive, gensem.core.cdm_jscc.checkpoint; sys.exit(int('gnuradio' in sys.modules or 'pmt' in sys.modules))"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.path.join(ROOT, "gr-gensem", "python")]))
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:] or "gnuradio was imported"


def test_assembles_parts_in_order_with_their_facts():
    a = ImageAssembler()
    assert a.add(part(4, 2, 3, b"CC")) is None
    assert a.add(part(4, 0, 3, b"AA", ber=1e-3)) is None
    assert a.add(prompt(4)) is None
    assert a.add(part(4, 0, 3, b"AA")) is None  # duplicate
    m = a.add(part(4, 1, 3, b"B"))
    assert m is not None and m.image_id == 4 and m.prompt == "a red car"
    assert m.edge_bytes == b"AAB" + b"CC" and [p.part for p in m.parts] == [0, 1, 2]
    assert [p.n_bytes for p in m.parts] == [2, 1, 2] and m.parts[0].mod == 16
    assert m.ber_est == pytest.approx((2 * 1e-3 + 1e-4 + 2 * 1e-4) / 5)
    assert a.counters["duplicates"] == 1 and a.counters["completed"] == 1
    assert a.add(part(4, 1, 3, b"B")) is None and a.counters["late"] == 1


def test_prompt_only_image_and_prompt_seq_as_image_id():
    a = ImageAssembler()
    m = a.add(BridgeMessage("prompt", 9, b"sky", n_parts=0, crc_ok=True))
    assert m.image_id == 9 and m.edge_bytes == b"" and m.n_parts == 0


def test_untagged_inconsistent_bad_prompt_and_frames_are_counted():
    a = ImageAssembler()
    assert a.add(BridgeMessage("edge", 1, b"x")) is None
    assert a.add(BridgeMessage("frame", 1, b"", snr_db=3.0)) is None
    a.add(part(1, 0, 2, b"x"))
    assert a.add(part(1, 1, 3, b"y")) is None
    assert a.add(BridgeMessage("prompt", 2, b"\xff\xfe", crc_ok=True)) is None
    assert a.add(BridgeMessage("prompt", 3, b"  ", crc_ok=True)) is None
    c = a.counters
    assert (c["untagged_edge"], c["frame_reports"], c["inconsistent"], c["bad_prompt"]) == (1, 1, 1, 2)
    assert a.last_frame.snr_db == 3.0


def test_timeouts_and_eviction_are_bounded_and_reported():
    now = [0.0]
    a = ImageAssembler(max_pending=2, timeout_s=5.0, clock=lambda: now[0])
    a.add(part(1, 0, 2, b"x"))
    a.add(prompt(2, n_parts=1))
    a.add(prompt(3, n_parts=1))  # evicts image 1
    assert a.counters["evicted"] == 1 and list(a.pending) == [2, 3]
    now[0] = 5.0
    recs = a.expire()
    assert [r["image_id"] for r in recs] == [2, 3] and recs[0]["missing"] == [0] and recs[0]["have_prompt"]
    assert a.counters["timeouts"] == 2 and not a.pending


def test_lost_parts_are_zero_filled_not_dropped():
    now = [0.0]
    a = ImageAssembler(timeout_s=5.0, clock=lambda: now[0])
    assert a.add(prompt(7, n_parts=3)) is None
    a.add(part(7, 0, 3, b"abcd"))
    a.add(part(7, 2, 3, b"ef"))  # part 1 was lost on the air
    a.add(part(8, 0, 2, b"zz"))  # no prompt: nothing to generate from, dropped
    a.add(prompt(9))  # prompt only (M1 = 0 sends no parts and no n_parts): prompt-only image
    now[0] = 5.0
    recs = {r["image_id"]: r for r in a.expire()}
    assert recs[7]["delivered_partial"] and recs[7]["missing"] == [1] and "delivered_partial" not in recs[8]
    msg, only = a.partial
    assert msg.edge_bytes == b"abcd" + bytes(4) + b"ef" and msg.missing_parts == [1]
    assert [p.part for p in msg.parts] == [0, 2] and msg.n_parts == 3 and msg.prompt == "a red car"
    assert only.image_id == 9 and only.edge_bytes == b"" and only.n_parts == 0
    assert a.counters["partial"] == 2 and a.counters["timeouts"] == 3
    b = ImageAssembler(timeout_s=5.0, clock=lambda: now[0], emit_partial=False)
    b.add(prompt(7, n_parts=2))
    b.add(part(7, 0, 2, b"ab"))
    now[0] = 10.0
    assert b.expire()[0]["missing"] == [1] and not b.partial


def test_client_counts_bad_messages_and_drops_oldest():
    with BridgeClient("inproc://unused-handle-test", pattern="pull", bind=True, queue_len=2) as c:
        for frames in ([b"junk"], [b"gensem/edge", b"{", b""], b"x", encode(prompt(1))[:2]):
            assert c.handle(frames) is None
        frames = encode(BridgeMessage("edge", 1, b"abc"))
        frames[2] = b"abX"
        c.handle(frames)
        for i in range(3):
            assert c.handle(encode(prompt(10 + i, n_parts=0))) is not None
        s = c.stats()
        assert s["bad"] == {"frames": 3, "header": 1, "checksum": 1} and s["bad_total"] == 5
        assert s["queue_dropped"] == 1 and [m.image_id for m in c.queue] == [11, 12]
        assert s["received"] == 8 and s["valid"] == 3


def _check_handle(frames):
    c = _FUZZ_CLIENT
    before = c.stats()
    c.handle(frames)  # must never raise
    s = c.stats()
    assert s["received"] == before["received"] + 1 and s["received"] == s["valid"] + s["bad_total"]
    assert s["pending"] <= c.assembler.max_pending and s["queued"] <= c.queue.maxlen


_messages = (
    any_message
    | st.builds(
        lambda img, i, n: encode(part(img, min(i, n - 1), n, b"e")),
        st.integers(0, 5),
        st.integers(0, 3),
        st.integers(1, 3),
    )
    | st.builds(lambda img, n: encode(prompt(img, n_parts=n)), st.integers(0, 5), st.integers(0, 3))
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_messages)
def test_fuzz_client_handle_fast(frames):
    _check_handle(frames)


@pytest.mark.slow
@settings(max_examples=100_000, deadline=None, suppress_health_check=list(HealthCheck))
@given(_messages)
def test_fuzz_client_handle_100k(frames):
    _check_handle(frames)


_FUZZ_CLIENT = BridgeClient("inproc://fuzz-client", pattern="pull", bind=True, queue_len=4)


def _pub_until_ready(pub, clients, timeout_s=5.0):
    """PUB drops what it sends before a subscription arrives: send frame reports until each client got one."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        pub.send_multipart(encode(BridgeMessage("frame", 0, b"")))
        for c in clients:
            c.poll(0.02)
        if all(c.assembler.counters["frame_reports"] for c in clients):
            return
    pytest.fail("subscriber never connected")


def test_pub_sub_tcp_with_shards():
    ctx = zmq.Context.instance()
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.LINGER, 0)
    port = pub.bind_to_random_port("tcp://127.0.0.1")
    ep = f"tcp://127.0.0.1:{port}"
    with BridgeClient(ep, shard=(0, 2)) as c0, BridgeClient(ep, shard=(1, 2)) as c1:
        _pub_until_ready(pub, [c0, c1])
        for img in range(6):
            pub.send_multipart(encode(prompt(img, text=f"image {img}")))
            for i in range(3):
                pub.send_multipart(encode(part(img, i, 3, bytes([img, i]) * 10)))
        got = {0: [], 1: []}
        for k, c in ((0, c0), (1, c1)):
            while (m := c.get(timeout_s=2.0)) is not None:
                got[k].append(m)
                if len(got[k]) == 3:
                    break
        assert [m.image_id for m in got[0]] == [0, 2, 4] and [m.image_id for m in got[1]] == [1, 3, 5]
        for m in got[0] + got[1]:
            assert m.prompt == f"image {m.image_id}"
            assert m.edge_bytes == b"".join(bytes([m.image_id, i]) * 10 for i in range(3))
        c0.poll(0.5)  # get() returns once an image is queued: read image 5's last messages too
        assert c0.stats()["other_shard"] == 12 and c0.stats()["bad_total"] == 0
    pub.close()


def test_push_pull_two_receivers_split_without_loss_or_duplicates():
    ctx = zmq.Context.instance()
    push = ctx.socket(zmq.PUSH)
    push.setsockopt(zmq.LINGER, 0)
    mon = push.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED)
    port = push.bind_to_random_port("tcp://127.0.0.1")
    ep = f"tcp://127.0.0.1:{port}"
    with (
        BridgeClient(ep, pattern="pull", queue_len=64) as r0,
        BridgeClient(ep, pattern="pull", queue_len=64) as r1,
    ):
        assert mon.poll(5000) and mon.recv_multipart() and mon.poll(5000) and mon.recv_multipart()
        n = 40  # prompt-only images: one message each, so PUSH deals whole images
        for img in range(n):
            push.send_multipart(encode(prompt(img, text=f"p{img}", n_parts=0)))
        t0 = time.monotonic()
        while len(r0.queue) + len(r1.queue) < n and time.monotonic() - t0 < 5:
            r0.poll(0.02)
            r1.poll(0.02)
        ids0, ids1 = [m.image_id for m in r0.queue], [m.image_id for m in r1.queue]
        assert sorted(ids0 + ids1) == list(range(n))  # none lost, none duplicated
        assert len(ids0) == len(ids1) == n // 2  # round robin over two connected peers
    push.disable_monitor()
    mon.close()
    push.close()


def test_first_line_of_an_exception():
    from gensem.core.errors import first_line

    assert first_line(ValueError("bad thing\nTraceback details")) == "ValueError: bad thing"
    assert first_line(RuntimeError("")) == "RuntimeError"  # no IndexError on an empty message
    assert first_line(OSError("  \n  x"), with_type=False) == "x"
    assert len(first_line(ValueError("y" * 500), limit=50)) == 50


def test_new_session_reuses_image_ids_without_late_drops():
    """A restarted transmitter numbers its images from 0 again: the assembler starts a new
    session instead of dropping them as late pieces of the old images."""
    from gensem.core.bridge_client import ImageAssembler
    from gensem.core.bridge_schema import BridgeMessage

    a = ImageAssembler()

    def prompt(text, session):
        return BridgeMessage(stream="prompt", seq=0, payload=text.encode(), n_parts=0, meta={"session": session})

    assert a.add(prompt("a dog", 7)).prompt == "a dog"
    assert a.add(prompt("a dog", 7)) is None and a.counters["late"] == 1  # same session: a late copy
    assert a.add(prompt("a red car", 8)).prompt == "a red car"
    assert a.counters["new_session"] == 1 and a.counters["completed"] == 2
