"""GNU Radio block ``gensem_prbs_ber_sink``: bit-error counter for BER-tester payloads.

Compares every stream-1 PDU with the pseudo-random payload the transmitter derived
from (seed, frame) (and, for a packet of an aggregated frame, its subframe offset: each
packet is then counted as a frame) and accumulates bits, bit errors and frames; per-frame records
(frame, mod, snr1_db, bit_errors) are kept for reports, the latest ``MAX_RECORDS`` of them
(memory stays bounded on long runs; the counters and the running SNR mean cover all frames).
"""

from __future__ import annotations

from collections import deque

import pmt
from gnuradio import gr

from gensem.blocks.pdu_util import log, pdu_fields
from gensem.dsp import prbs

MAX_RECORDS = 4096  # per-frame records kept (counters cover the whole run)


class prbs_ber_sink(gr.basic_block):
    def __init__(self, seed=1, keep_records=True):
        gr.basic_block.__init__(self, name="gensem_prbs_ber_sink", in_sig=None, out_sig=None)
        self.seed = int(seed)
        self.keep_records = bool(keep_records)
        self.bits = 0
        self.bit_errors = 0
        self.frames = 0
        self.frame_errors = 0
        self.bad_messages = 0
        self.records = deque(maxlen=MAX_RECORDS)  # the latest per-frame records (bounded)
        self.snr1_sum, self.snr1_n = 0.0, 0  # running mean of the stream-1 SNR estimates
        self.mods: set[int] = set()  # modulation orders seen
        self.message_port_register_in(pmt.intern("in"))
        self.set_msg_handler(pmt.intern("in"), self._handle)

    def _handle(self, msg):
        try:
            meta, data = pdu_fields(msg, ("frame", "packet_offset", "snr1_db", "mod"))
            frame = int(meta["frame"])
        except (ValueError, KeyError, TypeError) as exc:
            self.bad_messages += 1
            log.warning("gensem_prbs_ber_sink: ignored message: %s", exc)
            return
        ref = prbs.payload(self.seed, frame, len(data), offset=int(meta.get("packet_offset", 0)))
        errs = prbs.count_bit_errors(ref, data)
        self.frames += 1
        self.bits += 8 * len(data)
        self.bit_errors += errs
        self.frame_errors += errs > 0
        snr1, mod = meta.get("snr1_db"), meta.get("mod")
        if isinstance(snr1, (int, float)) and snr1 == snr1:
            self.snr1_sum += float(snr1)
            self.snr1_n += 1
        if mod is not None:
            self.mods.add(int(mod))
        if self.keep_records:
            self.records.append(
                {
                    "frame": frame,
                    "mod": meta.get("mod"),
                    "snr1_db": meta.get("snr1_db"),
                    "bit_errors": errs,
                    "bits": 8 * len(data),
                }
            )

    @property
    def snr1_mean_db(self):
        return self.snr1_sum / self.snr1_n if self.snr1_n else None

    @property
    def ber(self) -> float:
        return self.bit_errors / self.bits if self.bits else float("nan")
