"""Separation-based JSCC baselines of the CDM-JSCC paper: HEVC intra (BPG stand-in) over a
GNU Radio LDPC + M-QAM link, or over an ideal capacity-achieving code.

Submodules: :mod:`.hevc_codec` (pillow-heif), :mod:`.ldpc_qam` (gr-fec via gensem.dsp.gr_fec),
:mod:`.separation_baselines`. Nothing is imported here, so each stays importable alone.
"""
