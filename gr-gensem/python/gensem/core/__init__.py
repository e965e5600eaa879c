"""What the radio host and the GPU receiver share, with no GNU Radio import: the bridge
schema and client, packet and container formats, model definitions and codecs, metrics and
errors. Nothing is imported here, so each module stays importable alone."""
