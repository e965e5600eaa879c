"""Pure-numpy signal-processing core of gensem (no flowgraph needed to test it).

Only :mod:`gensem.dsp.conv_code` touches GNU Radio: it calls the ``gr-fec``
convolutional encoder and Viterbi decoder kernels directly.
"""
