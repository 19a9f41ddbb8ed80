# Crossing for the pool ops (see _C.pyx for the helpers).
