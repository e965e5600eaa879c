"""Bridge schema v1 and v2: round trips, one test per error code, and fuzzing of decode()."""

import json
import zlib

import pytest
from gensem.core import bridge_schema as schema
from gensem.core.bridge_schema import BridgeError, BridgeMessage, decode, encode, message_from_pdu
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


def _msg(**kw):
    base = dict(
        stream="edge", seq=7, payload=b"\x00\x01edge", image_id=3, part=1, n_parts=4, snr_db=12.5, mod=16
    )
    base.update(kw)
    return BridgeMessage(**base)


def _frames_with_header(header: dict, payload=b"abc", topic=None):
    h = dict(header)
    return [topic or b"gensem/" + str(h.get("stream", "edge")).encode(), json.dumps(h).encode(), payload]


def _good_header(payload=b"abc", **kw):
    h = {"v": 1, "stream": "edge", "seq": 1, "len": len(payload), "crc32": zlib.crc32(payload)}
    h.update(kw)
    return h


def test_round_trip_all_fields():
    m = _msg(
        crc_ok=None, ber_est=1e-3, evm_db=-20.0, tx_time=1.0, rx_time=2.0, sent_time=3.0, meta={"cfo": 0.1}
    )
    frames = encode(m)
    assert frames[0] == b"gensem/edge" and frames[2] == m.payload
    assert json.loads(frames[1])["v"] == 1  # v1 streams are written as v1, for v1 receivers
    assert decode(frames) == m


def test_prompt_round_trip_and_pdu_mapping():
    meta = {"prompt_seq": 5, "frame": 12, "snr0_db": float("nan"), "odd": [1, 2]}
    m = message_from_pdu("prompt", meta, "ein Bild".encode())
    assert (m.seq, m.crc_ok, m.snr_db, m.meta) == (5, True, None, {"frame": 12})
    assert decode(encode(m)) == m


def test_pdu_mapping_of_rx_frame_meta():
    meta = {"frame": 9, "mod": 64, "prompt_power": 0.1, "snr0_db": 3.0, "snr1_db": 20.0, "crc_ok": True}
    e = message_from_pdu("edge", dict(meta, image_id=2, part=0, n_parts=1), b"x")
    assert (e.seq, e.snr_db, e.crc_ok, e.image_id, e.part, e.n_parts) == (9, 20.0, None, 2, 0, 1)
    f = message_from_pdu("frame", meta, b"")
    assert (f.snr_db, f.crc_ok, f.meta["prompt_power"]) == (3.0, True, 0.1)
    with pytest.raises(BridgeError, match="lacks"):
        message_from_pdu("edge", {"mod": 4}, b"x")


@pytest.mark.parametrize(
    "frames, code",
    [
        (b"raw bytes", "frames"),
        ([b"gensem/edge", b"{}"], "frames"),
        ([b"gensem/edge", "str", b""], "frames"),
        ([b"other/edge", json.dumps(_good_header()).encode(), b"abc"], "topic"),
        ([b"gensem/prompt", json.dumps(_good_header()).encode(), b"abc"], "topic"),
        ([b"gensem/edge", b"\xff\xfe{", b"abc"], "header"),
        ([b"gensem/edge", b"[1, 2]", b"abc"], "header"),
        ([b"gensem/edge", b'{"v": NaN}', b"abc"], "header"),
        ([b"gensem/edge", b'{"v": 1, "v": 1}', b"abc"], "header"),
        ([b"gensem/edge", b"[" * 3000, b"abc"], "header"),
        ([b"gensem/edge", b"x" * 5000, b"abc"], "oversize"),
        ([b"gensem/edge", json.dumps(_good_header(v=3)).encode(), b"abc"], "version"),
        (
            [b"gensem/side", json.dumps(_good_header(stream="side")).encode(), b"abc"],
            "field",
        ),  # v2 stream in v1
        (
            [
                b"gensem/side",
                json.dumps(_good_header(v=2, stream="side", part=0, n_parts=1, image_id=1)).encode(),
                b"abc",
            ],
            "field",
        ),
        (
            [
                b"gensem/analog",
                json.dumps(_good_header(v=2, stream="analog", meta={"first": True, "last": False})).encode(),
                b"abc",
            ],
            "field",
        ),
        (
            [
                b"gensem/analog",
                json.dumps(
                    _good_header(b"abcdefgh", v=2, stream="analog", meta={"first": 1, "last": False})
                ).encode(),
                b"abcdefgh",
            ],
            "field",
        ),
        ([b"gensem/edge", json.dumps(_good_header(v=True)).encode(), b"abc"], "version"),
        ([b"gensem/edge", json.dumps({"stream": "edge"}).encode(), b"abc"], "version"),
        ([b"gensem/edge", json.dumps(_good_header(seq=-1)).encode(), b"abc"], "field"),
        ([b"gensem/edge", json.dumps(_good_header(seq=1.0)).encode(), b"abc"], "field"),
        ([b"gensem/edge", json.dumps(_good_header(crc_ok=1)).encode(), b"abc"], "field"),
        ([b"gensem/edge", json.dumps(_good_header(snr_db="9")).encode(), b"abc"], "field"),
        (
            [b"gensem/edge", json.dumps(_good_header(snr_db=1.5)).replace("1.5", "1e999").encode(), b"abc"],
            "field",
        ),
        ([b"gensem/edge", json.dumps(_good_header(snr_db=10**400)).encode(), b"abc"], "field"),
        ([b"gensem/edge", json.dumps(_good_header(surprise=1)).encode(), b"abc"], "field"),
        ([b"gensem/edge", json.dumps(_good_header(part=1)).encode(), b"abc"], "field"),
        ([b"gensem/edge", json.dumps(_good_header(image_id=1, part=4, n_parts=4)).encode(), b"abc"], "field"),
        ([b"gensem/edge", json.dumps(_good_header(meta={"a": [1]})).encode(), b"abc"], "field"),
        ([b"gensem/edge", json.dumps(_good_header(stream="video")).encode(), b"abc"], "field"),
        ([b"gensem/edge", json.dumps(_good_header()).encode(), b"ab"], "length"),
        ([b"gensem/edge", json.dumps(_good_header()).encode(), b"abd"], "checksum"),
    ],
)
def test_each_defect_has_its_code(frames, code):
    with pytest.raises(BridgeError) as info:
        decode(frames)
    assert info.value.code == code
    assert "\n" not in str(info.value) and str(info.value)


def test_v2_streams_round_trip_and_v1_stays_v1():
    import numpy as np

    sym = (np.arange(6) + 1j * np.arange(6)).astype("<c8")
    analog = BridgeMessage(
        "analog", 41, sym.tobytes(), snr_db=9.5, meta={"first": True, "last": False, "noise_var1": 0.1}
    )
    side = BridgeMessage("side", 2, b"GJ\x01\x00", crc_ok=True, snr_db=3.0)
    for m in (analog, side):
        frames = encode(m)
        assert json.loads(frames[1])["v"] == 2 and frames[0] == b"gensem/" + m.stream.encode()
        assert decode(frames) == m
    back = np.frombuffer(decode(encode(analog)).payload, "<c8")
    assert np.array_equal(back, sym)
    assert json.loads(encode(_msg())[1])["v"] == 1
    assert schema.VERSION == 2 and schema.VERSIONS == (1, 2)


def test_message_from_pdu_side_and_analog():
    side = message_from_pdu("side", {"prompt_seq": 3, "frame": 17, "snr0_db": 4.5}, b"GJ\x01")
    assert (side.seq, side.crc_ok, side.snr_db, side.meta["frame"]) == (3, True, 4.5, 17)
    meta = {"frame": 9, "first": True, "last": True, "n_symbols": 2, "noise_var1": 0.05, "snr1_db": 13.0}
    analog = message_from_pdu("analog", meta, bytes(16))
    assert (analog.seq, analog.crc_ok, analog.snr_db, analog.part, analog.n_parts) == (
        9,
        None,
        13.0,
        None,
        None,
    )
    assert analog.meta["first"] is True and analog.meta["noise_var1"] == 0.05
    with pytest.raises(BridgeError, match="first"):
        message_from_pdu("analog", {"frame": 9, "last": True}, bytes(16))
    with pytest.raises(BridgeError, match="complex64"):
        message_from_pdu("analog", meta, bytes(12))


def test_size_cap_is_configurable():
    frames = encode(_msg(payload=b"z" * 5000))
    decode(frames)
    with pytest.raises(BridgeError) as info:
        decode(frames, max_bytes=4096)
    assert info.value.code == "oversize"
    with pytest.raises(BridgeError, match="cap"):
        encode(_msg(payload=b"z" * 5000), max_bytes=4096)


def test_encode_rejects_invalid_messages():
    for bad in (
        _msg(stream="nope"),
        _msg(seq=-2),
        _msg(snr_db=float("inf")),
        _msg(payload="text"),
        _msg(part=9),
    ):
        with pytest.raises(BridgeError):
            encode(bad)


def _valid_frames():
    return st.builds(
        lambda payload, seq, img, n, snr: encode(
            _msg(payload=payload, seq=seq, image_id=img, part=n - 1, n_parts=n, snr_db=snr)
        ),
        st.binary(max_size=64),
        st.integers(0, 2**63 - 1),
        st.integers(0, 2**40),
        st.integers(1, 1000),
        st.floats(-50, 80),
    )


@st.composite
def mutated(draw):
    frames = list(draw(_valid_frames()))
    op = draw(st.sampled_from(["flip", "truncate", "insert", "drop", "replace", "json"]))
    i = draw(st.integers(0, len(frames) - 1))
    f = bytearray(frames[i])
    if op == "flip" and f:
        k = draw(st.integers(0, len(f) - 1))
        f[k] ^= 1 << draw(st.integers(0, 7))
    elif op == "truncate":
        f = f[: draw(st.integers(0, len(f)))]
    elif op == "insert":
        k = draw(st.integers(0, len(f)))
        f[k:k] = draw(st.binary(min_size=1, max_size=8))
    elif op == "drop":
        del frames[i]
        return frames
    elif op == "replace":
        f = bytearray(draw(st.binary(max_size=64)))
    else:  # a header with random JSON values in known fields
        h = json.loads(frames[1])
        key = draw(st.sampled_from(sorted(h) + ["meta", "x"]))
        h[key] = draw(
            st.recursive(
                st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
                lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=3), c, max_size=3),
                max_leaves=6,
            )
        )
        frames[1] = json.dumps(h).encode()
        return frames
    frames[i] = bytes(f)
    return frames


any_message = (
    mutated()
    | st.lists(st.binary(max_size=80), max_size=5)
    | st.binary(max_size=80)
    | st.lists(st.one_of(st.binary(max_size=20), st.integers(), st.none(), st.text(max_size=5)), max_size=4)
)


def _check_decode(frames):
    try:
        m = decode(frames)
    except BridgeError as exc:
        assert exc.code in schema.ERROR_CODES and "\n" not in str(exc)
        return
    assert decode(encode(m)) == m  # whatever is accepted is a valid, stable message


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_message)
def test_fuzz_decode_fast(frames):
    _check_decode(frames)


@pytest.mark.slow
@settings(max_examples=100_000, deadline=None, suppress_health_check=list(HealthCheck))
@given(any_message)
def test_fuzz_decode_100k(frames):
    _check_decode(frames)


def test_the_largest_pdus_the_radio_can_send_fit_the_schema_and_the_receiver():
    """The schema's caps match what the radio can send: the frame header allows a 511-byte
    stream-0 packet, an 8191-byte stream-1 payload and 8191 analog symbols, 255 edge parts of
    a 16-bit image id; each such message encodes under the default cap, decodes again, and
    fits the receiving socket's MAXMSGSIZE (BridgeClient sets it to the same cap)."""
    import numpy as np

    pytest.importorskip("gnuradio.fec")  # the frame header's limits (dsp) need the radio host
    from gensem.core import edge_packets
    from gensem.core.bridge_schema import DEFAULT_MAX_BYTES, MAX_PARTS, BridgeMessage, decode, encode
    from gensem.dsp.frame_header import MAX_S0_BYTES, MAX_S1_BYTES, MAX_S1_SYMBOLS

    biggest = [
        BridgeMessage("prompt", 65535, b"x" * MAX_S0_BYTES, n_parts=edge_packets.MAX_PARTS, crc_ok=True),
        BridgeMessage("side", 65535, bytes(MAX_S0_BYTES), crc_ok=True),
        BridgeMessage("edge", 2**32, bytes(MAX_S1_BYTES), image_id=0xFFFF, part=254, n_parts=255, mod=256),
        BridgeMessage(
            "analog",
            2**32,
            np.ones(MAX_S1_SYMBOLS, "<c8").tobytes(),
            meta={"first": True, "last": True, "noise_var1": 0.1},
        ),
    ]
    assert edge_packets.MAX_PARTS <= MAX_PARTS
    for m in biggest:
        frames = encode(m)
        assert max(len(f) for f in frames) <= DEFAULT_MAX_BYTES
        assert decode(frames).payload == m.payload
