"""``gensem_two_stream_rx(decode_process=True)``: the frame receiver in a worker process
gives the same frames as inline decoding, loses none at the end of the stream, carries
the ARQ loop, and falls back to inline decoding if the worker dies."""

import threading
import time

import numpy as np
from gensem import two_stream_rx, two_stream_tx
from gensem.apps.link import LinkConfig, run_link
from gensem.blocks.prbs_ber_sink import prbs_ber_sink
from gensem.dsp import prbs
from gensem.dsp.conv_code import ConvCode
from gensem.dsp.frame_builder import build_frame
from gensem.dsp.frame_receiver import FrameReceiver
from gensem.dsp.ofdm_params import OfdmParams
from gensem.dsp.rx_worker import SubprocessReceiver
from gnuradio import blocks, gr


def _signal(n_frames=40, mod=16):
    p, code = OfdmParams(), ConvCode()
    x = np.concatenate(
        [build_frame(p, k, mod, 0.5, None, 0, prbs.payload(3, k, 200), code) for k in range(n_frames)]
    )
    rng = np.random.default_rng(5)
    return (x + 0.02 * (rng.standard_normal(x.size) + 1j * rng.standard_normal(x.size))).astype(np.complex64)


def test_subprocess_receiver_matches_inline():
    x = _signal()
    w = SubprocessReceiver()
    try:
        for i in range(0, x.size, 30000):
            assert w.send(x[i : i + 30000])
        res = []
        while not res or res[-1]["pushed"] < x.size:
            got = w.results(timeout=20)
            assert got, "worker gave no result"
            res += got
    finally:
        w.close()
    remote = [f for r in res for f in r["frames"]]
    rx = FrameReceiver()
    local = [f for i in range(0, x.size, 30000) for f in rx.push(x[i : i + 30000])]
    assert len(remote) == len(local) == 40
    for a, b in zip(remote, local):
        assert (a.seq, a.mod, a.s1_payload) == (b.seq, b.mod, b.s1_payload)
    assert res[-1]["stats"].frames == 40 and res[-1]["decode_errors"] == 0


def test_flowgraph_bit_exact_with_worker_and_no_frame_lost_at_the_end():
    tb = gr.top_block()
    tx = two_stream_tx(mod=64, prbs_frames=30, prbs_bytes=300, prbs_seed=4, tail=0)
    rx = two_stream_rx(decode_process=True)
    ber = prbs_ber_sink(seed=4)
    tb.connect(tx, rx)
    tb.msg_connect(rx, "adaptive", ber, "in")
    tb.run()
    time.sleep(0.05)
    assert ber.frames == 30 and ber.bit_errors == 0
    assert rx.stats.frames == 30 and rx.samples_in == tx.samples_sent


def test_link_with_worker_runs_the_arq_loop():
    r = run_link(
        LinkConfig(stream="both", text="a dog on a beach", mod=16, snr_db=20, frames=20, rx_process=True)
    )
    assert r["prompt"]["delivered"] and r["adaptive"]["frames_received"] == 20
    assert r["adaptive"]["bit_errors"] == 0


def _running_with_worker(n_frames=30):
    """A throttled 4-QAM stream into two_stream_rx(decode_process=True), started, its worker up."""
    x = _signal(n_frames, mod=4)
    tb = gr.top_block()
    src = blocks.vector_source_c(x.tolist())
    rx = two_stream_rx(decode_process=True)
    ber = prbs_ber_sink(seed=3)
    tb.connect(src, blocks.throttle(gr.sizeof_gr_complex, 2e5), rx)
    tb.msg_connect(rx, "adaptive", ber, "in")
    tb.start()
    t0 = time.monotonic()
    while rx._worker is None and time.monotonic() - t0 < 5:
        time.sleep(0.01)
    time.sleep(0.1)
    return tb, rx, ber


def test_worker_death_falls_back_to_inline():
    tb, rx, ber = _running_with_worker()
    rx._worker._proc.kill()  # the decoder process dies mid-stream
    tb.wait()
    time.sleep(0.05)
    assert rx._worker is None  # switched to inline decoding
    assert ber.frames >= 20 and ber.bit_errors == 0  # frames after the switch are decoded


def test_hung_worker_is_killed_and_nothing_is_lost(monkeypatch):
    """A worker that stops answering (SIGSTOP: alive, silent) used to hold the flowgraph
    forever; the watchdog kills it and the block decodes inline from the first sample the
    worker had not confirmed (a frame the worker held half-decoded is lost, as when it dies)."""
    import os
    import signal

    monkeypatch.setattr(two_stream_rx, "WATCHDOG_S", 1.0)
    tb, rx, ber = _running_with_worker()
    pid = rx._worker._proc.pid
    os.kill(pid, signal.SIGSTOP)  # hung: the process lives, nothing comes back
    try:
        done = threading.Event()
        threading.Thread(target=lambda: (tb.wait(), done.set()), daemon=True).start()
        assert done.wait(60), "the flowgraph hangs with the worker"
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    time.sleep(0.05)
    assert rx.worker_stalls == 1 and rx._worker is None
    assert ber.frames >= 20 and ber.bit_errors == 0
