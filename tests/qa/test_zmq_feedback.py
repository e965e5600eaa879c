"""The ARQ feedback link's own ZeroMQ blocks (gensem_zmq_feedback_sink -> _source): versioned
JSON messages, CURVE, and bad input counted without stopping the flowgraph."""

import socket
import time

import pmt
import pytest
import zmq
from gensem import zmq_feedback_sink, zmq_feedback_source
from gensem.core import feedback_wire
from gensem.core.zmq_security import make_keys
from gnuradio import blocks, gr


def _addr():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


def test_wire_round_trip_and_bad_messages():
    fb = {"frame": 7, "crc_ok": True, "prompt_seq": 3, "session": 123456789}
    assert feedback_wire.decode(feedback_wire.encode(fb)) == fb
    assert feedback_wire.decode(feedback_wire.encode({"frame": 1, "crc_ok": None})) == {"frame": 1, "crc_ok": None}
    for bad, why in (
        (b"\\xff\\xfe", "not UTF-8 JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"v": 2, "frame": 1}', "version 2"),
        (b'{"frame": 1}', "version None"),
        (b'{"v": 1, "frame": [1]}', "not a scalar"),
        (b" " * 5000, "exceeds"),
    ):
        with pytest.raises(ValueError, match=why):
            feedback_wire.decode(bad)
    with pytest.raises(ValueError, match="finite scalar"):
        feedback_wire.encode({"x": float("nan")})
    with pytest.raises(ValueError, match="bad feedback address"):
        zmq_feedback_sink(address="garbage")


def _link(keys_rx="", keys_tx=""):
    addr = _addr()
    src = zmq_feedback_source(address=addr, curve_keys=keys_tx, timeout_ms=20)
    snk = zmq_feedback_sink(address=addr, curve_keys=keys_rx)
    dbg = blocks.message_debug()
    feeder = gr.basic_block("feeder", None, None)
    feeder.message_port_register_out(pmt.intern("out"))
    tb = gr.top_block()
    tb.msg_connect(src, "out", dbg, "store")
    tb.msg_connect(feeder, "out", snk, "in")  # gives the sink its place in the graph (its start())
    tb._keep = feeder
    return tb, snk, src, dbg


def _send_until(snk, dbg, fb, n, deadline=5.0):
    t0 = time.monotonic()
    while dbg.num_messages() < n and time.monotonic() - t0 < deadline:
        snk._handle(pmt.to_pmt(fb))  # PUB/SUB: the first messages go before the TX is subscribed
        time.sleep(0.05)


@pytest.mark.parametrize("curve", [False, True])
def test_feedback_arrives_as_the_same_dict(tmp_path, curve):
    keys = ""
    if curve:
        make_keys(str(tmp_path / "k"))
        keys = str(tmp_path / "k")
    tb, snk, src, dbg = _link(keys, keys)
    tb.start()
    try:
        fb = {"frame": 4, "crc_ok": True, "prompt_seq": 0, "session": 77}
        _send_until(snk, dbg, fb, 3)
    finally:
        tb.stop()
        tb.wait()
    assert dbg.num_messages() >= 3 and snk.sent >= 3 and src.bad_messages == 0
    assert pmt.to_python(dbg.get_message(0)) == fb


def test_a_tx_without_the_keys_gets_nothing(tmp_path):
    make_keys(str(tmp_path / "k"))
    tb, snk, src, dbg = _link(str(tmp_path / "k"), "")  # RX requires CURVE, TX speaks plain
    tb.start()
    try:
        _send_until(snk, dbg, {"frame": 1, "crc_ok": False, "prompt_seq": -1}, 1, deadline=1.0)
    finally:
        tb.stop()
        tb.wait()
    assert dbg.num_messages() == 0 and src.received == 0


def test_malformed_messages_are_counted_and_the_source_keeps_running():
    addr = _addr()
    src = zmq_feedback_source(address=addr, timeout_ms=20)
    dbg = blocks.message_debug()
    tb = gr.top_block()
    tb.msg_connect(src, "out", dbg, "store")
    tb.start()
    pub = zmq.Context.instance().socket(zmq.PUB)
    pub.setsockopt(zmq.LINGER, 0)
    pub.bind(addr)
    try:
        t0 = time.monotonic()
        while dbg.num_messages() < 1 and time.monotonic() - t0 < 5:
            for m in (b"not json", b'{"v": 9}', pmt.serialize_str(pmt.to_pmt({"frame": 1}))):
                pub.send(m)
            pub.send(feedback_wire.encode({"frame": 2, "crc_ok": True, "prompt_seq": 1}))
            time.sleep(0.05)
    finally:
        pub.close()
        tb.stop()
        tb.wait()
    assert dbg.num_messages() >= 1 and src.bad_messages >= 3
    assert pmt.to_python(dbg.get_message(0))["frame"] == 2
