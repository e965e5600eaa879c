"""Semantic transmitter pieces of the prompt + edge-map system (Qiao et al. §III-A):
image loading, edge maps (Canny offline, HED with local weights) and the learned
edge-map codec. Torch/CompressAI/OpenCV, no GNU Radio: the GPU receiver imports the codec."""
