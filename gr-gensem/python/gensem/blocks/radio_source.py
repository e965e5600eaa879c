"""GNU Radio hier block ``gensem_radio_source``: the receiving radio, or a dry run.

    uhd.usrp_source (device "usrp", gr-uhd)
    soapy.source driver=hackrf (device "hackrf", gr-soapy; LNA = gain clipped to
        0..40 dB, VGA 20 dB, AMP off, as GRC's "Soapy HackRF Source")
    zeromq.pull_source (device "zmq": complex samples from a ZMQ PUSH peer at ``dev_args``)
    ``dry_run``: the samples of ``replay_file`` (cf32 / SigMF data), or ``dry_run_samples``
        zeros, at ``samp_rate`` (throttled); then the flowgraph ends
        -> [filter.dc_blocker_cc(64, long_form=True): removes the radio's DC spike]
        -> out

``dc_blocker``: None = auto (on for a HackRF, which has no DC correction; off for the
USRP, whose AD9361 removes DC itself, for ZMQ and for dry runs), True / False forces it.

A radio that cannot be opened prints one line naming the device args and raises
``RadioUnavailable`` (SystemExit, status 2).
"""

from __future__ import annotations

from gnuradio import blocks, gr

from gensem.blocks import radio_device as rd

# DC blocker length: the two cascaded D-sample moving averages of the long form have their
# nulls at multiples of samp_rate / D, so with D = 64 = the FFT length every subcarrier centre
# (k * samp_rate / 64, k != 0) passes with unit gain at any sample rate and only DC is
# notched (the notch is ~samp_rate / 64 wide: 15.6-31 kHz at 1-2 Msps). D = 32 would cut
# subcarriers +-1 by 1.6 dB (measured).
DC_BLOCKER_LEN = 64


def dc_blocker_on(dc_blocker, device, dry_run) -> bool:
    """The ``dc_blocker`` parameter resolved: None = on for a real HackRF only."""
    if dc_blocker is None:
        return device == "hackrf" and not dry_run
    return bool(dc_blocker)


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
        dc_blocker=None,
    ):
        gr.hier_block2.__init__(
            self,
            "gensem_radio_source",
            gr.io_signature(0, 0, 0),
            gr.io_signature(1, 1, gr.sizeof_gr_complex),
        )
        rd.check(device, samp_rate)
        self.device, self.dry_run = device, bool(dry_run)
        self.dc_blocker = None
        tail = []
        if dc_blocker_on(dc_blocker, device, self.dry_run):
            from gnuradio import filter as gr_filter

            self.dc_blocker = gr_filter.dc_blocker_cc(DC_BLOCKER_LEN, True)
            tail = [self.dc_blocker]
        if self.dry_run:
            if replay_file:
                from gensem.core import sigmf_io
                path = sigmf_io.data_path(replay_file)
                if not path.is_file():
                    raise ValueError(f"replay file {path} not found")
                self.src = blocks.file_source(gr.sizeof_gr_complex, str(path), False)
                chain = [self.src]
            else:
                self.src = blocks.null_source(gr.sizeof_gr_complex)
                chain = [self.src, blocks.head(gr.sizeof_gr_complex, int(dry_run_samples))]
            chain.append(blocks.throttle(gr.sizeof_gr_complex, float(samp_rate)))
            self.connect(*chain, *tail, self)
            return
        self.src = rd.open_or_exit(
            device,
            dev_args,
            "ZMQ pull source",
            lambda: _open_source(
                device, dev_args, float(samp_rate), float(center_freq), float(gain), antenna
            ),
        )
        self.connect(self.src, *tail, self)

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
