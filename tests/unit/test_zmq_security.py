"""CURVE on the bridge (gensem.core.zmq_security): the right keys get through, a peer
without them gets nothing in; bad key files are one-line errors; exposed binds warn."""

import pytest

zmq = pytest.importorskip("zmq")

from gensem.core.bridge_client import BridgeClient  # noqa: E402
from gensem.core.bridge_schema import BridgeMessage, encode  # noqa: E402
from gensem.core.zmq_security import check_keys, make_keys, secure, warn_if_exposed  # noqa: E402


def _prompt(text, seq):
    return encode(BridgeMessage("prompt", seq, text.encode(), n_parts=0, crc_ok=True))


def _push(endpoint, keys):
    s = zmq.Context.instance().socket(zmq.PUSH)
    s.setsockopt(zmq.LINGER, 0)
    secure(s, keys, server=False)
    s.connect(endpoint)
    return s


def test_only_a_peer_with_the_keys_gets_in(tmp_path):
    keys, other = str(tmp_path / "keys"), str(tmp_path / "other")
    make_keys(keys)
    make_keys(other)
    endpoint = f"ipc://{tmp_path}/bridge.sock"
    with BridgeClient(endpoint, pattern="pull", bind=True, curve_keys=keys) as rx:
        intruders = [_push(endpoint, ""), _push(endpoint, other)]  # no keys; someone else's keys
        for k, s in enumerate(intruders):
            if s.poll(500, zmq.POLLOUT):  # a failed handshake leaves no peer to send to
                s.send_multipart(_prompt(f"forged {k}", k), flags=zmq.NOBLOCK)
        friend = _push(endpoint, keys)
        friend.send_multipart(_prompt("a red car", 7))
        got = rx.get(timeout_s=5.0)
        assert got is not None and got.prompt == "a red car"
        for s in intruders:  # the forged prompts never arrive, however long we wait
            s.close(0)
        assert rx.get(timeout_s=1.0) is None and rx.stats()["received"] == 1
        friend.close(0)


def test_bad_keys_are_one_line_errors(tmp_path):
    with pytest.raises(ValueError, match="gensem keys") as e:
        check_keys(str(tmp_path / "nowhere"), server=True)
    assert "\n" not in str(e.value)
    keys = tmp_path / "k"
    make_keys(str(keys))
    (keys / "client.key").unlink()
    with pytest.raises(ValueError, match="client.key is missing"):
        BridgeClient("tcp://127.0.0.1:*", pattern="pull", bind=True, curve_keys=str(keys))
    (keys / "server.key").write_text("not a certificate")
    with pytest.raises(ValueError, match="bad CURVE key file"):
        check_keys(str(keys), server=False)
    with pytest.raises(ValueError, match="exists"):
        make_keys(str(keys))


def test_exposed_bind_without_keys_warns():
    assert warn_if_exposed("tcp://*:5555", "", "sink").startswith("sink: tcp://*:5555 is reachable")
    assert warn_if_exposed("tcp://0.0.0.0:5555", "", "sink") is not None
    assert warn_if_exposed("tcp://127.0.0.1:5555", "", "sink") is None
    assert warn_if_exposed("ipc:///tmp/x", "", "sink") is None
    assert warn_if_exposed("tcp://*:5555", "/keys", "sink") is None
