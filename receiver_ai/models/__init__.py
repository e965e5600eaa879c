"""Models of the GPU receiver (no GNU Radio imports)."""
