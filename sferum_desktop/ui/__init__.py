"""The Qt desktop interface: the only layer that imports Qt."""
