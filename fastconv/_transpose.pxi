# Crossing for the transpose ops (see _C.pyx for the helpers).
