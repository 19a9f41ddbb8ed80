# Crossing for the gemm ops (see _C.pyx for the helpers).
