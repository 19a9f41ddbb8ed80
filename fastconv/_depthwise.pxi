# Crossing for the depthwise ops (see _C.pyx for the helpers).
