"""The blocked-layout direct-convolution kernel alone, as a fraction of this core's FMA
peak: its own code (loops, register use, epilogue), without a layer's memory traffic,
threads or Python. Each ISA's kernel source is compiled into harness.c (beside this
file) with the library's flags and run on one thread over tiles whose input and weights
stay in cache (L1 for the small cases, L2 for the large), against the peak the bench
measures (an FMA loop on registers). Needs a C compiler (cc) and the source tree.

    PYTHONPATH=. python benchmarks/blocked_kernel/blocked_kernel_peak.py

On an Intel Xeon core with two 512-bit FMA pipes (issue 16): the AVX-512 kernel's quad
tiles ran at 54-59% of the peak on 64-channel inputs and 64-71% on long reductions with
GCC's code for the loop; with the reduction in assembly (kernels/avx512/
blocked_quad_asm.h) at 65-69% and 75-85%, where the same instructions in a bare loop
ran at 86-93%.
"""
import os
import subprocess
import sys
import tempfile

from fastconv import _C

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SRC = os.path.join(ROOT, "src_c")
# ISA: (kernel source, kernel symbol, pixels a tile)
KERNELS = {
    "avx512": ("kernels/avx512/f32_conv_blocked_avx512.c",
               "fc_f32_conv_blocked_ukernel_16x10__avx512", 10),
    "avx2": ("kernels/avx2/f32_conv_blocked_avx2.c",
             "fc_f32_conv_blocked_ukernel_16x6__avx2", 6),
    "portable": ("kernels/portable/f32_conv_blocked_portable.c",
                 "fc_f32_conv_blocked_ukernel_16x3__portable", 3),
}
# (input blocks, output blocks, tiles): 64, 256 and 2048 input channels; one group of
# 32 or 256 output channels; 1 tile (input in L1) or 20
CASES = [(8, 4, 1), (32, 4, 1), (256, 4, 1), (8, 32, 20), (32, 128, 20)]
FLAGS = ["-O3", "-std=gnu11", "-ffp-contract=fast", "-fno-math-errno"]


def build(isa, d):
    src, sym, np_ = KERNELS[isa]
    inc = [f"-I{SRC}", f"-I{os.path.join(SRC, 'include')}"]
    here = os.path.dirname(os.path.abspath(__file__))
    kernel, exe = os.path.join(d, f"kernel_{isa}.o"), os.path.join(d, f"harness_{isa}")
    subprocess.run(["cc", *FLAGS, *inc, "-c", "-o", kernel, os.path.join(SRC, src)],
                   check=True)
    subprocess.run(["cc", *FLAGS, *inc, f"-DHARNESS_UKERNEL={sym}", f"-DHARNESS_NP={np_}",
                    "-o", exe, os.path.join(here, "harness.c"), kernel], check=True)
    return exe


def main():
    best = _C.cpu_isa()      # this CPU's best ISA, and every one below it
    order = list(KERNELS)
    isas = order[order.index(best):] if best in order else ["portable"]
    print(f"{'isa':9s} {'in ch':>6s} {'out ch':>7s} {'tiles':>6s} {'GFLOP/s':>8s} "
          f"{'% of the ISA peak':>18s}")
    with tempfile.TemporaryDirectory() as d:
        for isa in isas:
            _C.set_isa(isa)                   # the peak of this ISA's FMA loop
            try:
                fma_peak = _C.measure_fma_gflops(1, 0.5)   # (peak.fma_gflops caches)
            finally:
                _C.set_isa(best)
            exe = build(isa, d)
            for cb, kb, tiles in CASES:
                reps = max(1, int(4e8 / (2 * KERNELS[isa][2] * tiles * kb * 8 * cb * 8)))
                out = subprocess.run([exe, str(cb), str(kb), str(tiles), str(reps)],
                                     check=True, capture_output=True, text=True).stdout
                rate = float(out.split()[1])
                print(f"{isa:9s} {8 * cb:6d} {8 * kb:7d} {tiles:6d} {rate:8.1f} "
                      f"{100 * rate / fma_peak:14.0f}% of {fma_peak:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
