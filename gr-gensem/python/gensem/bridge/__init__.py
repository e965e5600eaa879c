"""The ZeroMQ bridge between the radio (GNU Radio) and the GPU receiver.

``gensem.bridge.schema`` is pure standard library so that ``receiver_ai`` can use it on
a host without GNU Radio; the GNU Radio sink is the block ``gensem.zmq_bridge_sink``.
"""

from .schema import VERSION, BridgeError, BridgeMessage, decode, encode, message_from_pdu

__all__ = ["VERSION", "BridgeError", "BridgeMessage", "decode", "encode", "message_from_pdu"]
