"""Applications that build and run GNU Radio flowgraphs: the loopback link (``link``), SNR
sweeps, SigMF record/replay, the over-the-air radio host, the semantic demo and CDM-JSCC over
the link."""
