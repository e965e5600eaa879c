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

from .radio_errors import radio_unavailable

DEVICES = ("usrp", "hackrf", "zmq")


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
        if device not in DEVICES:
            raise ValueError(f"unknown device {device!r}; use one of {DEVICES}")
        if not float(samp_rate) > 0:
            raise ValueError(f"samp_rate must be > 0 Hz, got {samp_rate}")
        self.device, self.dry_run = device, bool(dry_run)
        if self.dry_run:
            self.throttle = blocks.throttle(gr.sizeof_gr_complex, float(samp_rate))
            self.sink = blocks.null_sink(gr.sizeof_gr_complex)
            self.connect(self, self.throttle, self.sink)
            return
        try:
            self.sink = _open_sink(
                device, dev_args, float(samp_rate), float(center_freq), float(gain), antenna
            )
        except RuntimeError as exc:
            label = {"usrp": "USRP", "hackrf": "HackRF", "zmq": "ZMQ push sink"}[device]
            args = ",".join(filter(None, ["driver=hackrf", dev_args])) if device == "hackrf" else dev_args
            raise radio_unavailable(label, args, exc) from None
        self.connect(self, self.sink)

    def set_center_freq(self, f):
        if self.dry_run or self.device == "zmq":
            return
        if self.device == "usrp":
            self.sink.set_center_freq(float(f), 0)
        else:
            self.sink.set_frequency(0, float(f))

    def set_gain(self, g):
        if self.dry_run or self.device == "zmq":
            return
        if self.device == "usrp":
            self.sink.set_gain(float(g), 0)
        else:
            self.sink.set_gain(0, "VGA", min(max(float(g), 0.0), 47.0))


def _open_sink(device, dev_args, samp_rate, freq, gain, antenna):
    if device == "usrp":
        import os

        os.environ.setdefault("UHD_LOG_CONSOLE_LEVEL", "warning")  # no UHD banner before our one line
        from gnuradio import uhd

        s = uhd.usrp_sink(dev_args, uhd.stream_args(cpu_format="fc32", channels=[0]), "")
        s.set_samp_rate(samp_rate)
        s.set_center_freq(freq, 0)
        s.set_gain(gain, 0)
        if antenna:
            s.set_antenna(antenna, 0)
        return s
    if device == "hackrf":
        from gnuradio import soapy

        s = soapy.sink("driver=hackrf", "fc32", 1, dev_args, "", [""], [""])
        s.set_sample_rate(0, samp_rate)
        s.set_bandwidth(0, 0)
        s.set_frequency(0, freq)
        s.set_gain(0, "AMP", False)
        s.set_gain(0, "VGA", min(max(gain, 0.0), 47.0))
        return s
    from gnuradio import zeromq

    if not dev_args:
        raise RuntimeError("no address; give --args tcp://HOST:PORT")
    return zeromq.push_sink(gr.sizeof_gr_complex, 1, dev_args, 100, False, -1)
