"""Image generation backends of the GPU receiver: ``edge-diffusion`` (ours, offline) and ``controlnet``."""
