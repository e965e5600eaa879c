"""Edge-map parts over stream 1 of the real loopback: part headers, reassembly, bridge."""

import json
import threading

import numpy as np
import pytest
from gensem.apps.link import LinkConfig, run_link
from gensem.core import edge_packets as ep


def test_packetize_parse_reassemble():
    data = bytes(range(256)) * 3
    parts = ep.packetize(data, image_id=513, max_payload=100)
    B = 100 - ep.HEADER_BYTES  # body bytes per part (82: an 18-byte header)
    assert len(parts) == -(-len(data) // B) and all(len(p) <= 100 for p in parts)
    got = {}
    for p in parts:
        image_id, k, n, body = ep.parse(p)
        assert image_id == 513 and n == len(parts)
        got[k] = body
    assert ep.reassemble(got, len(parts), B) == (data, [])
    del got[2]
    out, missing = ep.reassemble(got, len(parts), B)
    assert missing == [2] and out[2 * B : 3 * B] == bytes(B) and len(out) == len(data)
    # one flipped copy per header bit is outvoted
    bad = bytearray(parts[1])
    bits = np.unpackbits(np.frombuffer(bytes(bad[: ep.HEADER_BYTES]), np.uint8))
    bits[::3] ^= 1
    bad[: ep.HEADER_BYTES] = np.packbits(bits).tobytes()
    assert ep.parse(bytes(bad))[:3] == (513, 1, len(parts))
    assert ep.parse(b"short") is None
    with pytest.raises(ValueError, match="part header"):
        ep.packetize(data, 0, ep.HEADER_BYTES)


def test_edge_parts_over_the_link_bit_exact():
    data = bytes(np.random.default_rng(1).integers(0, 256, 1500, dtype=np.uint8))
    parts = ep.packetize(data, image_id=0, max_payload=256)
    r = run_link(
        LinkConfig(stream="both", text="a house by a lake", mod=16, snr_db=25, adaptive_payloads=tuple(parts))
    )
    a = r["adaptive"]
    assert a["frames_received"] == len(parts) and a["bit_errors"] == 0
    assert r["prompt"]["delivered"]
    got = {}
    for k, payload in a["received"].items():
        _, part, n, body = ep.parse(payload)
        got[part] = body
    assert ep.reassemble(got, len(parts), 244)[0] == data


def test_bridge_delivers_prompt_and_tagged_parts():
    pytest.importorskip("zmq")
    from gensem.core.bridge_client import BridgeClient

    data = bytes(np.random.default_rng(2).integers(0, 256, 700, dtype=np.uint8))
    parts = ep.packetize(data, image_id=0, max_payload=256)
    result = {}
    client = BridgeClient("tcp://127.0.0.1:*", pattern="pull", bind=True)  # PUSH from the radio: nothing lost

    def receive():
        result["msg"] = client.get(timeout_s=20)

    th = threading.Thread(target=receive)
    th.start()
    r = run_link(
        LinkConfig(
            stream="both",
            text="a red car",
            mod=16,
            snr_db=25,
            adaptive_payloads=tuple(parts),
            bridge_endpoint=client.endpoint,
            bridge_pattern="push",
        )
    )
    th.join(25)
    client.close()
    msg = result.get("msg")
    assert r["prompt"]["delivered"] and msg is not None, json.dumps(client.stats() if msg is None else {})
    assert msg.prompt == "a red car" and msg.edge_bytes == data and msg.n_parts == len(parts)


def test_part_headers_are_crc_protected():
    """Payloads that are not edge parts (PRBS frames on stream 1) pass the majority vote of
    an unprotected header but not its CRC: without it, 1018 of these 2000 parsed as parts."""
    from gensem.dsp import prbs

    payloads = [prbs.payload(1, n, 256) for n in range(2000)]
    assert sum(ep.parse(p) is not None for p in payloads) <= 1
    good = ep.packetize(bytes(range(200)) * 3, image_id=513, max_payload=256)
    assert [ep.parse(p)[:3] for p in good] == [(513, k, len(good)) for k in range(len(good))]
    bad = bytearray(good[0])
    bad[:3] = bytes(3)  # all three copies of the first 8 header bits: the vote cannot fix it
    assert ep.parse(bytes(bad)) is None
