"""gensem-receiver end to end over ZeroMQ with tiny random models (fast tier)."""

import json
import os
import threading
import time

import numpy as np
import pytest
import zmq
from gensem.core.bridge_schema import BridgeMessage, encode

from receiver_ai import cli

pytest.importorskip("diffusers")
pytest.importorskip("compressai")


@pytest.fixture(scope="module")
def tiny_codec(tmp_path_factory):
    from gensem.core.edge_codec import EdgeCodec

    codec = EdgeCodec.from_config(N=8, M=8, size=(128, 64), seed=0)
    path = str(tmp_path_factory.mktemp("codec") / "codec.pt")
    codec.save(path)
    edges = np.zeros((64, 128), np.uint8)
    edges[20:22, :] = 255
    edges[:, 60:62] = 255
    return path, codec.compress(edges)


def image_messages(image_id, prompt, data, n_parts=2):
    cuts = np.linspace(0, len(data), n_parts + 1).astype(int)
    msgs = [BridgeMessage("prompt", 7, prompt.encode(), image_id=image_id, n_parts=n_parts, crc_ok=True)]
    for i in range(n_parts):
        msgs.append(
            BridgeMessage(
                "edge",
                100 + i,
                data[cuts[i] : cuts[i + 1]],
                image_id=image_id,
                part=i,
                n_parts=n_parts,
                mod=16,
                snr_db=14.0,
                ber_est=1e-4,
            )
        )
    return [encode(m) for m in msgs]


def test_receiver_cli_generates_and_reports(tiny_codec, tmp_path, capsys):
    codec_path, data = tiny_codec
    ctx = zmq.Context.instance()
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.LINGER, 0)
    port = pub.bind_to_random_port("tcp://127.0.0.1")
    out = tmp_path / "rx"
    argv = [
        "--connect",
        f"tcp://127.0.0.1:{port}",
        "--backend",
        "edge-diffusion",
        "--tiny",
        "--steps",
        "2",
        "--edge-codec",
        codec_path,
        "--out",
        str(out),
        "--max-images",
        "1",
        "--timeout",
        "20",
        "--json",
    ]
    result = {}
    th = threading.Thread(target=lambda: result.update(rc=cli.main(argv)))
    th.start()
    frames = image_messages(42, "a red car on a road", data)
    deadline = time.monotonic() + 30
    while th.is_alive() and time.monotonic() < deadline:  # resend until subscribed (slow joiner)
        for f in frames:
            pub.send_multipart(f)
        th.join(0.2)
    th.join(5)
    pub.close(0)
    assert result.get("rc") == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary == json.loads((out / "receiver.json").read_text())
    assert summary["n_images"] == 1 and summary["n_errors"] == 0
    rec = summary["images"][0]
    assert rec["image_id"] == 42 and rec["prompt"] == "a red car on a road"
    assert rec["edge_bits"] == 8 * len(data) and rec["edge_decode_ok"] and rec["modulation"] == [16]
    assert rec["edge_map_used"] and summary["edge_maps_dropped"] == 0
    assert rec["size"] == [768, 512] and rec["timings_s"]["generate"] > 0
    from PIL import Image

    assert Image.open(rec["files"]["generated"]).size == (768, 512)
    assert Image.open(rec["files"]["edges"]).size == (128, 64)
    assert summary["bridge"]["images"]["completed"] >= 1
    journal = [json.loads(line) for line in (out / "receiver.jsonl").read_text().splitlines()]
    assert [j["image_id"] for j in journal if j["event"] == "image"] == [42]


def run_cli(argv, capsys):
    rc = cli.main(argv)
    err = capsys.readouterr().err.strip()
    return rc, err


def test_dead_bridge_is_one_line_exit_2(tiny_codec, tmp_path, capsys):
    argv = [
        "--connect",
        "tcp://127.0.0.1:9",
        "--tiny",
        "--edge-codec",
        tiny_codec[0],
        "--out",
        str(tmp_path),
        "--timeout",
        "0.3",
        "--json",
    ]
    rc, err = run_cli(argv, capsys)
    assert rc == 2 and "no image from" in err and "\n" not in err.splitlines()[-1]
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "extra, needle",
    [
        (["--edge-codec", "/nonexistent/codec.pt", "--tiny"], "edge-codec checkpoint not found"),
        (["--model", "/nonexistent/ed.pt"], "edge-diffusion checkpoint not found"),
        (["--tiny", "--max-images", "0"], "--max-images"),
        (["--tiny", "--timeout", "-1"], "--timeout"),
    ],
)
def test_user_errors_are_one_line_exit_2(tiny_codec, tmp_path, capsys, extra, needle):
    argv = ["--connect", "tcp://127.0.0.1:9", "--out", str(tmp_path)]
    if "--edge-codec" not in extra:
        argv += ["--edge-codec", tiny_codec[0]]
    rc, err = run_cli(argv + extra, capsys)
    assert rc == 2 and needle in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert os.path.isdir(tmp_path)


def test_service_journals_each_image_and_leaves_its_record_on_sigterm(tiny_codec, tmp_path):
    """--timeout 0 runs as a service: each image is in receiver.jsonl as soon as it is done,
    and SIGTERM stops it with exit status 0 and its counters in receiver.json."""
    import signal
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join(root, "gr-gensem", "python"), root]))
    endpoint = f"ipc://{tmp_path}/bridge.sock"
    out = tmp_path / "rx"
    rx = subprocess.Popen(
        [sys.executable, "-m", "receiver_ai.cli", "--connect", endpoint, "--bind", "--pattern", "pull",
         "--tiny", "--steps", "1", "--edge-codec", tiny_codec[0], "--out", str(out), "--timeout", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    push = zmq.Context.instance().socket(zmq.PUSH)
    push.setsockopt(zmq.LINGER, 0)
    push.connect(endpoint)
    try:
        for f in image_messages(5, "a boat on a lake", tiny_codec[1]):
            push.send_multipart(f)
        journal = out / "receiver.jsonl"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (journal.exists() and '"image"' in journal.read_text()):
            assert rx.poll() is None, rx.communicate()[1]
            time.sleep(0.2)
        time.sleep(1.0)  # still running: --timeout 0 does not give up
        assert rx.poll() is None
        rx.send_signal(signal.SIGTERM)
        _, err = rx.communicate(timeout=30)
    finally:
        rx.kill()
        push.close(0)
    assert rx.returncode == 0, err
    summary = json.loads((out / "receiver.json").read_text())
    assert summary["stopped"] == "terminated (SIGTERM)" and summary["n_images"] == 1
    lines = [json.loads(x) for x in journal.read_text().splitlines()]
    assert [x["image_id"] for x in lines if x["event"] == "image"] == [5]


def test_colour_layout_is_used_and_a_bad_one_is_counted(tiny_codec, tmp_path):
    """An image prompt's colour layout reaches the backend; a layout of another version is a
    one-line colour_error on its image (counted) and the image is generated from the rest."""
    import base64
    import time as _time

    from gensem.core import colour_layout
    from gensem.core.bridge_client import SemanticMessage, _colour_of
    from gensem.core.edge_codec import EdgeCodec

    codec_path, data = tiny_codec
    codec = EdgeCodec.from_checkpoint(codec_path)
    seen = []

    def generate(prompt, edge_map, seed=None, colour=None):
        seen.append(colour)
        return np.zeros((64, 128, 3), np.uint8)

    good = colour_layout.encode(np.full((64, 128, 3), 90, np.uint8), grid=(4, 2))
    bad = bytes([9]) + good[1:]
    now = _time.monotonic()
    recs = []
    for i, layout in enumerate((good, bad, None)):
        msg = SemanticMessage(i, "", 7, 20.0, data, [], now, now, colour_layout=layout)
        recs.append(cli.process(msg, codec, generate, str(tmp_path), 1, "drop-corrupt"))
    assert seen == [good, None, None]
    assert [r["colour_bits"] for r in recs] == [8 * len(good), 8 * len(bad), 0]
    assert recs[0]["colour_error"] is None and "version 9" in recs[1]["colour_error"]
    assert all(r["error"] is None for r in recs)
    # the bridge carries the layout as base64 in the prompt's meta
    p = BridgeMessage("prompt", 7, b"", n_parts=0, crc_ok=True, meta={"colour_layout": base64.b64encode(good).decode()})
    assert _colour_of(p) == good and _colour_of(BridgeMessage("prompt", 7, b"x", meta={"colour_layout": "%%"})) is None
