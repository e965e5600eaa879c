"""GNU Radio block ``gensem_edge_part_parser``: tags stream-1 payloads with their image.

Between ``gensem_two_stream_rx`` (``adaptive``) and ``gensem_zmq_bridge_sink``
(``adaptive``): reads the repetition-coded part header of each edge-map payload
(``semantic.edge_packets``), strips it, and adds ``image_id``, ``part`` and ``n_parts`` to
the PDU metadata so the GPU receiver can assemble the image. A header that fails its
consistency check is counted (``bad_headers``) and logged, and its payload is not
forwarded (it cannot be placed). Ports: in ``in``; out ``out``.
"""

from __future__ import annotations

import pmt
from gnuradio import gr

from gensem.blocks.pdu_util import log, make_pdu, parse_pdu
from gensem.core.edge_packets import parse


class edge_part_parser(gr.basic_block):
    def __init__(self):
        gr.basic_block.__init__(self, name="gensem_edge_part_parser", in_sig=None, out_sig=None)
        self.parsed = 0
        self.bad_headers = 0
        self.bad_messages = 0
        self.message_port_register_in(pmt.intern("in"))
        self.set_msg_handler(pmt.intern("in"), self._handle)
        self.message_port_register_out(pmt.intern("out"))

    def _handle(self, msg):
        try:
            meta, data = parse_pdu(msg)
        except (ValueError, TypeError) as exc:
            self.bad_messages += 1
            log.warning("gensem_edge_part_parser: ignored message: %s", exc)
            return
        hdr = parse(data)
        if hdr is None:
            self.bad_headers += 1
            n = self.bad_headers
            if n <= 10 or n % 1000 == 0:  # the counter is exact; the log stays readable on long runs
                log.warning(
                    "gensem_edge_part_parser: frame %s: edge part header unreadable (%d bytes), payload not "
                    "placed (%d so far%s)",
                    meta.get("frame"),
                    len(data),
                    n,
                    "; logging every 1000th" if n == 10 else "",
                )
            return
        image_id, part, n_parts, body = hdr
        self.parsed += 1
        self.message_port_pub(
            pmt.intern("out"), make_pdu(dict(meta, image_id=image_id, part=part, n_parts=n_parts), body)
        )
