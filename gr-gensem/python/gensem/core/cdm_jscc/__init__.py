"""CDM-JSCC (Yang, Zhang, Cai; papers/yang_cdm_jscc.txt): the rate-adaptive JSCC core.

Notation. The paper calls the main latent z = g_e(x) and the hyper-latent y = h_e(z); we follow
CompressAI instead: y = g_e(x) is the main latent (the paper's z), z = h_e(y) the hyper-latent (the
paper's y). Eq. (1) is then p(y_hat | z_hat), a Gaussian with (mu, sigma) = h_s(z_hat), convolved
with U(-1/2, 1/2).

This slice holds the transmitter and receiver models up to the latent: g_e + hyperprior
(:mod:`.transform`), the MLLA block (:mod:`.mlla`), the rate-adaptive JSCC encoder f_e
(:mod:`.jscc_encoder`), its inverse f_d (:mod:`.jscc_decoder`), lengths / CBR / beta search
(:mod:`.rate`) and the AWGN channel (:mod:`.channel`). No GNU Radio import anywhere.
"""

from gensem.core.cdm_jscc.channel import awgn
from gensem.core.cdm_jscc.jscc_decoder import JSCCDecoder
from gensem.core.cdm_jscc.jscc_encoder import JSCCEncoder
from gensem.core.cdm_jscc.mlla import LinearAttention, MLLABlock
from gensem.core.cdm_jscc.rate import (
    allowed_lengths,
    checkerboard_order,
    find_beta,
    measure_cbr,
    quantise_lengths,
    vector_bits,
)
from gensem.core.cdm_jscc.transform import HyperpriorTransform

__all__ = [
    "HyperpriorTransform",
    "JSCCDecoder",
    "JSCCEncoder",
    "LinearAttention",
    "MLLABlock",
    "allowed_lengths",
    "awgn",
    "checkerboard_order",
    "find_beta",
    "measure_cbr",
    "quantise_lengths",
    "vector_bits",
]
