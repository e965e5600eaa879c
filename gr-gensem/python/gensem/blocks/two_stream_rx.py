"""GNU Radio block ``gensem_two_stream_rx``: the receiver of both sub-channels.

Sink of complex baseband samples (from the channel model in loopback, from a USRP or
HackRF over the air: the block is the same). Runs ``dsp.frame_receiver`` and publishes
one PDU per decoded frame on ``frames`` (metadata: frame, mod, prompt_power, snr0_db,
snr1_db, cfo, noise_var, s0_present, crc_ok, rx_time, analog; payload: the stream-0 packet,
empty when none) and one PDU per stream-1 payload on ``adaptive`` (same metadata).
Analog frames give, on ``adaptive``, a c32vector PDU of the equalised symbols (unit
scale: the sent symbols plus noise) with metadata analog True, first, last, n_symbols and
noise_var1 (expected error variance of these symbols) besides the frame metadata
(frame = header seq, snr1_db); ``dsp.analog_assembler`` puts a message back together.
An aggregated frame (``dsp.aggregation``) gives one ``adaptive`` PDU per packet, with
``packet_offset`` (its subframe's byte offset) and ``s1_crc_ok`` (its own CRC-32) added to
the metadata; a consumer of data drops packets whose CRC failed, a BER tester counts them.
``s0_symbols`` / ``s1_symbols`` carry each frame's equalised cells of stream 0 (QPSK) and
stream 1 (M-QAM) as c32vector PDUs, for constellation displays (built only when connected).
The per-stream SNR estimates (Es/N0 on each sub-channel) feed the planner.

``decode_process=True`` runs the frame receiver in a worker process
(``dsp.rx_worker``), off this process's interpreter lock: the block then only forwards
samples and publishes results. It consumes input only as the worker confirms it, so no
frame is lost when the stream ends; if the worker dies, or hangs (no result for
``WATCHDOG_S`` with samples outstanding: killed, counted in ``worker_stalls``), the block
decodes inline again, from the first sample the worker had not confirmed (a frame the
worker held half-decoded is lost then).
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pmt
from gnuradio import gr

from gensem.blocks.pdu_util import log, make_c32_pdu, make_pdu, subscribed_ports
from gensem.dsp import rx_kernels
from gensem.dsp.frame_receiver import DecodedFrame, FrameReceiver
from gensem.dsp.ofdm_params import OfdmParams


def frame_meta(f: DecodedFrame) -> dict:
    return {
        "frame": int(f.seq),
        "mod": int(f.mod),
        "prompt_power": float(f.prompt_power_fraction),
        "snr0_db": float(f.snr_db[0]),
        "snr1_db": float(f.snr_db[1]),
        "cfo": float(f.cfo_subcarriers),
        "noise_var": float(f.noise_var),
        "sample": int(f.sample_index),
        "s0_present": f.s0_packet is not None,
        "crc_ok": bool(f.s0_crc_ok),
        "rx_time": time.time(),
        "analog": bool(f.analog),
    }


def analog_meta(f: DecodedFrame, meta: dict) -> dict:
    """Metadata of an analog stream-1 PDU: the frame's plus the message flags and noise."""
    nv = f.s1_noise_var if f.s1_noise_var is not None else float("nan")
    n = 0 if f.s1_symbols is None else int(f.s1_symbols.size)
    return dict(meta, first=bool(f.analog_first), last=bool(f.analog_last), n_symbols=n, noise_var1=float(nv))


_ADAPTIVE = pmt.intern("adaptive")
_SLOW_PATH_SAID: list = []  # the numpy-path notice was printed in this process
_PACKET_OFFSET = pmt.intern("packet_offset")
_S1_CRC_OK = pmt.intern("s1_crc_ok")


class two_stream_rx(gr.sync_block):
    # samples sent to the worker but not yet confirmed before work() waits; the upstream
    # buffer bounds it too, so give the block feeding this one a large output buffer
    # (the loopback uses 1 Mi samples: 2.4-2.7 -> 3.7-3.9 Msps measured here)
    MAX_LAG = 1 << 20
    WATCHDOG_S = 10.0  # samples outstanding and no result from the worker this long: it hangs

    def __init__(self, n_prompt_carriers=24, decode_process=False):
        gr.sync_block.__init__(self, name="gensem_two_stream_rx", in_sig=[np.complex64], out_sig=None)
        self.params = OfdmParams(n_prompt_carriers=int(n_prompt_carriers))
        self.rx = FrameReceiver(self.params)
        if not self.rx.compiled and not _SLOW_PATH_SAID:  # once per process: one line on stderr
            _SLOW_PATH_SAID.append(True)
            print(f"gensem_two_stream_rx: {rx_kernels.WHY_NOT}", file=sys.stderr, flush=True)
        self.decode_process = bool(decode_process)
        self.samples_in = 0
        self.decode_errors = 0
        self.worker_stalls = 0
        # aggregated frames (dsp.aggregation): packets split out, CRC-32 failures among them,
        # delimiters lost to bit errors (boundaries skipped to resynchronise)
        self.s1_packets = 0
        self.s1_packet_crc_failures = 0
        self.s1_delimiter_errors = 0
        self._subscribed = None
        self._worker = None
        self._remote_stats = None
        self._sent = 0  # absolute samples handed to the worker
        self._confirmed = 0  # absolute samples the worker has processed
        self.message_port_register_out(pmt.intern("frames"))
        self.message_port_register_out(pmt.intern("adaptive"))
        self.message_port_register_out(pmt.intern("s0_symbols"))
        self.message_port_register_out(pmt.intern("s1_symbols"))

    @property
    def stats(self):
        return self._remote_stats if self._remote_stats is not None else self.rx.stats

    def start(self):
        if self.decode_process and self._worker is None:
            from gensem.dsp.rx_worker import SubprocessReceiver

            self._worker = SubprocessReceiver(self.params.n_prompt_carriers)
        return True

    def stop(self):
        if self._worker is not None:
            self._worker.close()
            self._worker = None
        return True

    def _decode_inline(self, x):
        try:
            return self.rx.push(x)
        except Exception as exc:  # never let one bad frame stop the radio
            self.decode_errors += 1
            log.error(
                "gensem_two_stream_rx: frame decoding failed (%s: %s); resynchronising",
                type(exc).__name__,
                exc,
            )
            self.rx.reset()
            return []

    def work(self, input_items, output_items):
        x = input_items[0]
        if self._worker is None:
            self.samples_in += x.size
            self._publish(self._decode_inline(x))
            return x.size
        start = self.nitems_read(0)
        fresh = max(self._sent - start, 0)  # index of the first sample not yet sent
        if fresh < x.size:
            self.samples_in += x.size - fresh
            if self._worker.send(x[fresh:]):
                self._sent = start + x.size
        wait = fresh >= x.size or self._sent - self._confirmed > self.MAX_LAG
        self._collect(5.0 if wait else None)
        while self._worker is not None and self._confirmed <= start:
            self._collect(5.0)  # never return 0 with samples outstanding: the stream may be ending
        if self._worker is None:  # the worker died: decode what it had not confirmed here
            self._publish(self._decode_inline(x[max(self._confirmed - start, 0) :]))
            self._confirmed = self._sent = start + x.size
        return int(min(self._confirmed - start, x.size))

    def _collect(self, timeout):
        w = self._worker
        got = w.results(timeout)
        if not got and w.stalled(self.WATCHDOG_S):
            self.worker_stalls += 1
            log.error(
                "gensem_two_stream_rx: decoder process gave no result for %.0f s; killing it", self.WATCHDOG_S
            )
            w.kill()
            got = w.results(5.0)  # its EOF (and anything it sent before)
        for res in got:
            self._confirmed = res["pushed"]
            self._remote_stats = res["stats"]
            if res["error"]:
                self.decode_errors += 1
                log.error("gensem_two_stream_rx: frame decoding failed (%s); resynchronising", res["error"])
            self._publish(res["frames"])
        if not w.alive:
            log.error("gensem_two_stream_rx: decoder process exited; decoding in this process from now on")
            self._worker = None
            if self._remote_stats is not None:
                self.rx.stats = self._remote_stats
                self._remote_stats = None

    def _publish(self, frames):
        if frames and self._subscribed is None:
            self._subscribed = subscribed_ports(self, ("frames", "adaptive", "s0_symbols", "s1_symbols"))
        for f in frames:
            meta = frame_meta(f)
            if self._subscribed["frames"]:
                self.message_port_pub(pmt.intern("frames"), make_pdu(meta, f.s0_packet or b""))
            if f.analog and f.s1_symbols is not None and self._subscribed["adaptive"]:
                self.message_port_pub(
                    pmt.intern("adaptive"), make_c32_pdu(analog_meta(f, meta), f.s1_symbols)
                )
            if f.s1_packets is not None:
                self.s1_packets += len(f.s1_packets)
                self.s1_packet_crc_failures += sum(not ok for _, _, ok in f.s1_packets)
                self.s1_delimiter_errors += f.s1_delimiter_errors
            if f.s1_payload is not None and self._subscribed["adaptive"]:
                m = dict(meta, evm_db=f.s1_evm_db if f.s1_evm_db is not None else float("nan"))
                if f.s1_packets is None:
                    self.message_port_pub(pmt.intern("adaptive"), make_pdu(m, f.s1_payload))
                else:  # aggregated: a PDU per packet, the frame's metadata converted once
                    mp = pmt.to_pmt(m)
                    for off, packet, ok in f.s1_packets:
                        pm = pmt.dict_add(mp, _PACKET_OFFSET, pmt.from_long(int(off)))
                        pm = pmt.dict_add(pm, _S1_CRC_OK, pmt.from_bool(bool(ok)))
                        self.message_port_pub(_ADAPTIVE, make_pdu(pm, packet))
            for port, sym in (("s0_symbols", f.s0_symbols), ("s1_symbols", f.s1_symbols)):
                if sym is not None and sym.size and self._subscribed[port]:
                    vec = pmt.init_c32vector(sym.size, sym.astype(np.complex64))
                    self.message_port_pub(
                        pmt.intern(port), pmt.cons(pmt.to_pmt({"frame": meta["frame"]}), vec)
                    )
