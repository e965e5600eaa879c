"""GNU Radio hier block ``gensem_radio_sink``: the transmitting radio, or a dry run.

    in -> uhd.usrp_sink (device "usrp", gr-uhd)
       -> soapy.sink driver=hackrf (device "hackrf", gr-soapy; the calls of GRC's
          "Soapy HackRF Sink": AMP off, VGA = gain clipped to 0..47 dB)
       -> zeromq.push_sink (device "zmq": complex samples to a ZMQ PULL peer at ``dev_args``)
       -> blocks.throttle -> blocks.null_sink (``dry_run``: no hardware touched)

A radio that cannot be opened prints one line naming the device args and raises
``RadioUnavailable`` (SystemExit, status 2).
"""

from __future__ import annotations

from gnuradio import blocks, gr

from gensem.blocks import radio_device as rd


class radio_sink(gr.hier_block2):
    MESSAGE_INPUTS = ()
    MESSAGE_OUTPUTS = ()

    def __init__(
        self,
        device="usrp",
        dev_args="",
        samp_rate=1e6,
        center_freq=2.45e9,
        gain=0.0,
        antenna="",
        dry_run=False,
    ):
        gr.hier_block2.__init__(
            self,
            "gensem_radio_sink",
            gr.io_signature(1, 1, gr.sizeof_gr_complex),
            gr.io_signature(0, 0, 0),
        )
        rd.check(device, samp_rate)
        self.device, self.dry_run = device, bool(dry_run)
        if self.dry_run:
            self.throttle = blocks.throttle(gr.sizeof_gr_complex, float(samp_rate))
            self.sink = blocks.null_sink(gr.sizeof_gr_complex)
            self.connect(self, self.throttle, self.sink)
            return
        self.sink = rd.open_or_exit(
            device,
            dev_args,
            "ZMQ push sink",
            lambda: _open_sink(device, dev_args, float(samp_rate), float(center_freq), float(gain), antenna),
        )
        self.connect(self, self.sink)

    def set_center_freq(self, f):
        if not self.dry_run:
            rd.set_center_freq(self.sink, self.device, f)

    def set_gain(self, g):
        if not self.dry_run:
            rd.set_gain(self.sink, self.device, g, "VGA", 47.0)


def _open_sink(device, dev_args, samp_rate, freq, gain, antenna):
    if device == "usrp":
        rd.quiet_uhd()
        from gnuradio import uhd

        s = uhd.usrp_sink(dev_args, uhd.stream_args(cpu_format="fc32", channels=[0]), "")
        return rd.setup_usrp(s, samp_rate, freq, gain, antenna)
    if device == "hackrf":
        from gnuradio import soapy

        s = rd.setup_hackrf(soapy.sink("driver=hackrf", "fc32", 1, dev_args, "", [""], [""]), samp_rate, freq)
        rd.set_gain(s, device, gain, "VGA", 47.0)
        return s
    from gnuradio import zeromq

    if not dev_args:
        raise RuntimeError("no address; give --args tcp://HOST:PORT")
    return zeromq.push_sink(gr.sizeof_gr_complex, 1, dev_args, 100, False, -1)
