"""What the prompt + edge-map system can send: the modality sets of ``gensem demo`` and
``gensem calibrate`` (the colour layout is beyond the paper). No GNU Radio here."""

from __future__ import annotations

MODALITIES = ("prompt", "edges", "colour")  # what gensem demo can send (colour: beyond the paper)


def check_modalities(modalities) -> tuple:
    """The modalities as a tuple in MODALITIES order; ValueError for an unknown or empty set."""
    if isinstance(modalities, str):
        modalities = [m.strip() for m in modalities.split(",") if m.strip()]
    bad = [m for m in modalities if m not in MODALITIES]
    if bad or not modalities:
        raise ValueError(f"--modalities takes a non-empty subset of {','.join(MODALITIES)}; got {','.join(modalities) or 'nothing'}")
    return tuple(m for m in MODALITIES if m in modalities)
