"""GNU Radio hier block ``gensem_radio_source``: the receiving radio, or a dry run.

    uhd.usrp_source (device "usrp", gr-uhd)
    soapy.source driver=hackrf (device "hackrf", gr-soapy; LNA = gain clipped to
        0..40 dB, VGA 20 dB, AMP off, as GRC's "Soapy HackRF Source")
    zeromq.pull_source (device "zmq": complex samples from a ZMQ PUSH peer at ``dev_args``)
    ``dry_run``: the samples of ``replay_file`` (cf32 / SigMF data), or ``dry_run_samples``
        zeros, at ``samp_rate`` (throttled); then the flowgraph ends
        -> out

A radio that cannot be opened prints one line naming the device args and raises
``RadioUnavailable`` (SystemExit, status 2).
"""

from __future__ import annotations

from gnuradio import blocks, gr

from .radio_errors import radio_unavailable

DEVICES = ("usrp", "hackrf", "zmq")


class radio_source(gr.hier_block2):
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
        replay_file="",
        dry_run_samples=100000,
    ):
        gr.hier_block2.__init__(
            self,
            "gensem_radio_source",
            gr.io_signature(0, 0, 0),
            gr.io_signature(1, 1, gr.sizeof_gr_complex),
        )
        if device not in DEVICES:
            raise ValueError(f"unknown device {device!r}; use one of {DEVICES}")
        if not float(samp_rate) > 0:
            raise ValueError(f"samp_rate must be > 0 Hz, got {samp_rate}")
        self.device, self.dry_run = device, bool(dry_run)
        if self.dry_run:
            if replay_file:
                from . import sigmf_io

                path = sigmf_io.data_path(replay_file)
                if not path.is_file():
                    raise ValueError(f"replay file {path} not found")
                self.src = blocks.file_source(gr.sizeof_gr_complex, str(path), False)
                chain = [self.src]
            else:
                self.src = blocks.null_source(gr.sizeof_gr_complex)
                chain = [self.src, blocks.head(gr.sizeof_gr_complex, int(dry_run_samples))]
            chain.append(blocks.throttle(gr.sizeof_gr_complex, float(samp_rate)))
            self.connect(*chain, self)
            return
        try:
            self.src = _open_source(
                device, dev_args, float(samp_rate), float(center_freq), float(gain), antenna
            )
        except RuntimeError as exc:
            label = {"usrp": "USRP", "hackrf": "HackRF", "zmq": "ZMQ pull source"}[device]
            args = ",".join(filter(None, ["driver=hackrf", dev_args])) if device == "hackrf" else dev_args
            raise radio_unavailable(label, args, exc) from None
        self.connect(self.src, self)

    def set_center_freq(self, f):
        if self.dry_run or self.device == "zmq":
            return
        if self.device == "usrp":
            self.src.set_center_freq(float(f), 0)
        else:
            self.src.set_frequency(0, float(f))

    def set_gain(self, g):
        if self.dry_run or self.device == "zmq":
            return
        if self.device == "usrp":
            self.src.set_gain(float(g), 0)
        else:
            self.src.set_gain(0, "LNA", min(max(float(g), 0.0), 40.0))


def _open_source(device, dev_args, samp_rate, freq, gain, antenna):
    if device == "usrp":
        import os

        os.environ.setdefault("UHD_LOG_CONSOLE_LEVEL", "warning")  # no UHD banner before our one line
        from gnuradio import uhd

        s = uhd.usrp_source(dev_args, uhd.stream_args(cpu_format="fc32", channels=[0]))
        s.set_samp_rate(samp_rate)
        s.set_center_freq(freq, 0)
        s.set_gain(gain, 0)
        if antenna:
            s.set_antenna(antenna, 0)
        return s
    if device == "hackrf":
        from gnuradio import soapy

        s = soapy.source("driver=hackrf", "fc32", 1, dev_args, "", [""], [""])
        s.set_sample_rate(0, samp_rate)
        s.set_bandwidth(0, 0)
        s.set_frequency(0, freq)
        s.set_gain(0, "AMP", False)
        s.set_gain(0, "LNA", min(max(gain, 0.0), 40.0))
        s.set_gain(0, "VGA", 20.0)
        return s
    from gnuradio import zeromq

    if not dev_args:
        raise RuntimeError("no address; give --args tcp://HOST:PORT")
    return zeromq.pull_source(gr.sizeof_gr_complex, 1, dev_args, 100, False, -1)
