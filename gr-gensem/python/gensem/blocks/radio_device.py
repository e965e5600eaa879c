"""What ``gensem_radio_sink`` and ``gensem_radio_source`` share: the device list, parameter
checks, the one-line failure for a radio that will not open, and the tuning calls of
gr-uhd (USRP) and gr-soapy (``driver=hackrf``)."""

from __future__ import annotations

from gensem.blocks.radio_errors import radio_unavailable

DEVICES = ("usrp", "hackrf", "zmq")


def check(device, samp_rate):
    if device not in DEVICES:
        raise ValueError(f"unknown device {device!r}; use one of {DEVICES}")
    if not float(samp_rate) > 0:
        raise ValueError(f"samp_rate must be > 0 Hz, got {samp_rate}")


def open_or_exit(device, dev_args, zmq_label, opener):
    """``opener()``, or the one-line error naming the device args tried (exit status 2)."""
    try:
        return opener()
    except RuntimeError as exc:
        label = {"usrp": "USRP", "hackrf": "HackRF", "zmq": zmq_label}[device]
        args = ",".join(filter(None, ["driver=hackrf", dev_args])) if device == "hackrf" else dev_args
        raise radio_unavailable(label, args, exc) from None


def quiet_uhd():
    import os

    os.environ.setdefault("UHD_LOG_CONSOLE_LEVEL", "warning")  # no UHD banner before our one line


def setup_usrp(s, samp_rate, freq, gain, antenna):
    s.set_samp_rate(samp_rate)
    s.set_center_freq(freq, 0)
    s.set_gain(gain, 0)
    if antenna:
        s.set_antenna(antenna, 0)
    return s


def setup_hackrf(s, samp_rate, freq):
    """Rate, automatic bandwidth, frequency, RF amplifier off (as GRC's Soapy HackRF blocks)."""
    s.set_sample_rate(0, samp_rate)
    s.set_bandwidth(0, 0)
    s.set_frequency(0, freq)
    s.set_gain(0, "AMP", False)
    return s


def set_center_freq(blk, device, f):
    if device == "usrp":
        blk.set_center_freq(float(f), 0)
    elif device == "hackrf":
        blk.set_frequency(0, float(f))


def set_gain(blk, device, g, hackrf_stage, hackrf_max):
    """USRP: the gain as given; HackRF: ``hackrf_stage`` clipped to 0..``hackrf_max`` dB."""
    if device == "usrp":
        blk.set_gain(float(g), 0)
    elif device == "hackrf":
        blk.set_gain(0, hackrf_stage, min(max(float(g), 0.0), hackrf_max))
