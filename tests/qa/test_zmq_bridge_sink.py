"""GNU Radio QA: gensem_zmq_bridge_sink in the real two-stream loopback, received with pyzmq."""

import time

import pmt
import pytest
import zmq
from gensem.apps.link import LinkConfig, LoopbackLink, run_to_end
from gensem.blocks.pdu_util import make_pdu
from gensem.blocks.zmq_bridge_sink import zmq_bridge_sink
from gensem.core.bridge_client import BridgeClient
from gensem.core.bridge_schema import decode
from gensem.dsp import prbs


def _drain(sock, quiet_s=0.3):
    out = []
    while sock.poll(int(quiet_s * 1000)):
        out.append(decode(sock.recv_multipart()))
    return out


def test_loopback_both_streams_over_the_bridge_bit_exact():
    ctx = zmq.Context.instance()
    pull = ctx.socket(zmq.PULL)
    pull.setsockopt(zmq.LINGER, 0)
    port = pull.bind_to_random_port("tcp://127.0.0.1")
    cfg = LinkConfig(
        stream="both",
        text="a red car in front of a glass building",
        mod=16,
        snr_db=30,
        frames=12,
        payload_bytes=96,
        prompt_power=0.3,
        seed=5,
        timeout_s=60,
    )
    tb = LoopbackLink(cfg)
    sink = zmq_bridge_sink(endpoint=f"tcp://127.0.0.1:{port}", pattern="push", bind=False)
    tb.msg_connect(tb.arq_rx, "prompt", sink, "prompt")
    tb.msg_connect(tb.rx, "adaptive", sink, "adaptive")
    tb.msg_connect(tb.rx, "frames", sink, "frames")
    # as run_link: the TX's end waits until the sink has taken every PDU (on a timeout the
    # asserts below say what is missing)
    run_to_end(
        tb, lambda: (*tb.progress_counters(), sink.total_sent, sink.total_dropped), time.monotonic() + 60
    )
    msgs = _drain(pull)
    pull.close()

    prompts = [m for m in msgs if m.stream == "prompt"]
    edges = [m for m in msgs if m.stream == "edge"]
    frames = [m for m in msgs if m.stream == "frame"]
    assert [m.payload for m in prompts] == [cfg.text.encode()] and prompts[0].crc_ok is True
    assert len(edges) == tb.ber.frames == cfg.frames and tb.ber.bit_errors == 0
    for m in edges:  # every stream-1 payload arrives bit-exactly, with its radio facts
        assert m.payload == prbs.payload(cfg.seed, m.seq, cfg.payload_bytes)
        assert m.mod == 16 and m.snr_db > 20 and 0 <= m.ber_est < 1e-6 and m.rx_time <= m.sent_time
    assert len(frames) == tb.rx.stats.frames
    assert sink.sent == {"prompt": 1, "edge": cfg.frames, "frame": len(frames), "side": 0, "analog": 0}
    assert sink.total_dropped == 0 and sum(sink.bad_pdus.values()) == 0


def test_tagged_pdus_reach_the_receiver_as_one_image():
    """image_id / part / n_parts in PDU metadata pass through the sink; the client assembles them."""
    with BridgeClient("tcp://127.0.0.1:0", pattern="pull", bind=True) as client:
        sink = zmq_bridge_sink(endpoint=client.endpoint, pattern="push", bind=False)
        sink.start()
        try:
            sink._on_prompt(
                make_pdu({"prompt_seq": 0, "frame": 3, "snr0_db": 4.0, "image_id": 7, "n_parts": 2}, b"a cat")
            )
            for i, chunk in enumerate((b"\x01\x02", b"\x03")):
                meta = {"frame": 4 + i, "mod": 64, "snr1_db": 25.0, "image_id": 7, "part": i, "n_parts": 2}
                sink._on_adaptive(make_pdu(meta, chunk))
            img = client.get(timeout_s=5)
        finally:
            sink.stop()
    assert img.image_id == 7 and img.prompt == "a cat" and img.edge_bytes == b"\x01\x02\x03"
    assert [p.mod for p in img.parts] == [64, 64] and img.prompt_snr_db == 4.0


def test_cdm_jscc_pdus_go_out_as_side_and_analog():
    """stream0="side": stream-0 deliveries are side information; c32 PDUs are analog frames."""
    import numpy as np
    from gensem.blocks.pdu_util import make_c32_pdu

    sym = (np.arange(5) - 1j * np.arange(5)).astype(np.complex64)
    ctx = zmq.Context.instance()
    pull = ctx.socket(zmq.PULL)
    pull.setsockopt(zmq.LINGER, 0)
    port = pull.bind_to_random_port("tcp://127.0.0.1")
    sink = zmq_bridge_sink(endpoint=f"tcp://127.0.0.1:{port}", pattern="push", bind=False, stream0="side")
    sink.start()
    try:
        sink._on_prompt(make_pdu({"prompt_seq": 4, "frame": 2, "snr0_db": 3.0}, b"GJ\x01\x00"))
        meta = {"frame": 9, "first": True, "last": False, "noise_var1": 0.02, "snr1_db": 17.0, "analog": True}
        sink._on_adaptive(make_c32_pdu(meta, sym))
        sink._on_adaptive(make_c32_pdu({"frame": 10, "last": True}, sym))  # no 'first' flag: bad
        msgs = _drain(pull)
    finally:
        sink.stop()
        pull.close()
    side, analog = msgs
    assert (side.stream, side.seq, side.payload, side.crc_ok) == ("side", 4, b"GJ\x01\x00", True)
    assert analog.stream == "analog" and analog.seq == 9 and analog.snr_db == 17.0
    assert np.array_equal(np.frombuffer(analog.payload, "<c8"), sym) and analog.meta["noise_var1"] == 0.02
    assert sink.sent["side"] == 1 and sink.sent["analog"] == 1 and sink.bad_pdus["analog"] == 1
    with pytest.raises(ValueError, match="stream0"):
        zmq_bridge_sink(stream0="video")


def test_counters_for_bad_pdus_and_no_receiver():
    sink = zmq_bridge_sink(endpoint="tcp://127.0.0.1:*", pattern="push", bind=True)
    sink._on_adaptive(make_pdu({"frame": 1}, b"x"))  # before start: no socket
    sink.start()
    try:
        assert sink.last_endpoint.startswith("tcp://127.0.0.1:")
        sink._on_adaptive(make_pdu({"frame": 2}, b"x"))  # PUSH with no receiver: dropped, not blocked
        sink._on_adaptive(make_pdu({"mod": 4}, b"x"))  # no frame number
        sink._on_prompt(pmt.intern("not a pdu"))
    finally:
        sink.stop()
    assert sink.dropped["edge"] == 2 and sink.bad_pdus == {
        "prompt": 1,
        "edge": 1,
        "frame": 0,
        "side": 0,
        "analog": 0,
    }


def test_bad_parameters_and_busy_port_are_one_line_errors():
    for kw, match in (
        ({"pattern": "req"}, "pattern"),
        ({"endpoint": "localhost:5555"}, "endpoint"),
        ({"hwm": 0}, "hwm"),
    ):
        with pytest.raises(ValueError, match=match):
            zmq_bridge_sink(**kw)
    a = zmq_bridge_sink(endpoint="tcp://127.0.0.1:*")
    a.start()
    b = zmq_bridge_sink(endpoint=a.last_endpoint)
    try:
        with pytest.raises(RuntimeError, match="cannot bind") as info:
            b.start()
        assert "\n" not in str(info.value)
    finally:
        a.stop()


def test_pub_bridge_drops_are_counted_not_hidden():
    """A plain PUB socket discards at its high-water mark and with no subscriber, and its
    send still succeeds: the drops were invisible. The sink's XPUB (NODROP) counts both."""
    import zmq

    sink = zmq_bridge_sink(endpoint="tcp://127.0.0.1:*", pattern="pub", bind=True, hwm=5)
    sink.start()
    try:
        sink._on_prompt(make_pdu({"prompt_seq": 0, "frame": 0, "snr0_db": 1.0}, b"nobody listens"))
        assert sink.no_subscriber == 1 and sink.dropped["prompt"] == 1 and sink.sent["prompt"] == 0
        sub = zmq.Context.instance().socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        sub.setsockopt(zmq.RCVHWM, 5)
        sub.setsockopt(zmq.SUBSCRIBE, b"gensem/")
        sub.connect(sink.last_endpoint)
        deadline = time.monotonic() + 5
        while sink.subscribers == 0 and time.monotonic() < deadline:
            sink._read_subscriptions()
            time.sleep(0.02)
        payload = bytes(200_000)  # big messages fill the socket buffers quickly
        for k in range(400):  # the subscriber never reads: it falls behind
            sink._on_adaptive(make_pdu({"frame": k, "mod": 16, "snr1_db": 20.0}, payload))
        sub.close(0)
    finally:
        sink.stop()
    assert sink.sent["edge"] + sink.dropped["edge"] == 400
    assert sink.dropped["edge"] > 0 and sink.sent["edge"] >= 5


def test_curve_bridge_sink_sends_nothing_to_a_receiver_without_keys(tmp_path):
    """The radio's bridge sink with --curve-keys: a receiver with the keys gets the
    prompts, one without them gets nothing (its handshake fails)."""
    from gensem.core.zmq_security import make_keys

    keys = str(tmp_path / "keys")
    make_keys(keys)
    sink = zmq_bridge_sink(endpoint="tcp://127.0.0.1:*", pattern="pub", bind=True, curve_keys=keys)
    sink.start()
    try:
        ours = BridgeClient(sink.last_endpoint, pattern="sub", curve_keys=keys)
        stranger = BridgeClient(sink.last_endpoint, pattern="sub")
        deadline = time.monotonic() + 10
        k = 0
        while time.monotonic() < deadline:
            sink._on_prompt(make_pdu({"prompt_seq": k, "frame": k, "snr0_db": 1.0, "n_parts": 0}, b"a red car"))
            k += 1
            if ours.get(timeout_s=0.1) is not None:
                break
        else:
            pytest.fail("the keyed receiver got nothing")
        assert stranger.get(timeout_s=1.0) is None and stranger.stats()["received"] == 0
        ours.close()
        stranger.close()
    finally:
        sink.stop()
    with pytest.raises(ValueError, match="gensem keys"):
        zmq_bridge_sink(endpoint="tcp://127.0.0.1:*", curve_keys=str(tmp_path / "missing"))
