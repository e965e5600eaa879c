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

from . import radio_device as rd


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
        rd.check(device, samp_rate)
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
        self.src = rd.open_or_exit(
            device,
            dev_args,
            "ZMQ pull source",
            lambda: _open_source(
                device, dev_args, float(samp_rate), float(center_freq), float(gain), antenna
            ),
        )
        self.connect(self.src, self)

    def set_center_freq(self, f):
        if not self.dry_run:
            rd.set_center_freq(self.src, self.device, f)

    def set_gain(self, g):
        if not self.dry_run:
            rd.set_gain(self.src, self.device, g, "LNA", 40.0)


def _open_source(device, dev_args, samp_rate, freq, gain, antenna):
    if device == "usrp":
        rd.quiet_uhd()
        from gnuradio import uhd

        s = uhd.usrp_source(dev_args, uhd.stream_args(cpu_format="fc32", channels=[0]))
        return rd.setup_usrp(s, samp_rate, freq, gain, antenna)
    if device == "hackrf":
        from gnuradio import soapy

        s = rd.setup_hackrf(
            soapy.source("driver=hackrf", "fc32", 1, dev_args, "", [""], [""]), samp_rate, freq
        )
        rd.set_gain(s, device, gain, "LNA", 40.0)
        s.set_gain(0, "VGA", 20.0)
        return s
    from gnuradio import zeromq

    if not dev_args:
        raise RuntimeError("no address; give --args tcp://HOST:PORT")
    return zeromq.pull_source(gr.sizeof_gr_complex, 1, dev_args, 100, False, -1)
