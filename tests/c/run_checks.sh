#!/usr/bin/env bash
# Memory-safety checks of the C library: every tests/c/test_*.c built with all of
# src_c/ under AddressSanitizer + UndefinedBehaviorSanitizer and run, the fuzz
# harness run under both for FUZZ_SECONDS, then the C tests under valgrind memcheck.
# Usage: bash tests/c/run_checks.sh   (from anywhere; needs gcc, valgrind optional)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
CC="${CC:-gcc}"
FUZZ_SECONDS="${FUZZ_SECONDS:-20}"
SRC=$(find src_c -name '*.c' | sort)
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
COMMON="-std=gnu11 -g -fopenmp -Isrc_c -Isrc_c/include"
# Huge but legal descriptors must fail with FC_OUT_OF_MEMORY, not abort the sanitizer.
export ASAN_OPTIONS="allocator_may_return_null=1:detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

for t in tests/c/test_*.c; do
    name=$(basename "$t" .c)
    echo "== $name (ASan + UBSan)"
    $CC -O1 $COMMON $SAN $SRC "$t" -lm -o "$OUT/$name.san"
    "$OUT/$name.san"
done

echo "== fuzz_conv (ASan + UBSan, ${FUZZ_SECONDS}s)"
$CC -O1 $COMMON $SAN $SRC tests/c/fuzz_conv.c -lm -o "$OUT/fuzz_conv"
"$OUT/fuzz_conv" "$FUZZ_SECONDS" 2>/dev/null

if command -v valgrind >/dev/null; then
    for t in tests/c/test_*.c; do
        name=$(basename "$t" .c)
        echo "== $name (valgrind memcheck)"
        $CC -O2 $COMMON $SRC "$t" -lm -o "$OUT/$name.vg"
        # valgrind lacks AVX-512 and reports the CPU without it, so the AVX2 and
        # portable paths run; few cases keep it short.
        OMP_NUM_THREADS=2 valgrind -q --error-exitcode=1 --leak-check=full \
            --errors-for-leak-kinds=definite --show-leak-kinds=definite "$OUT/$name.vg" 8
    done
else
    echo "valgrind not found: memcheck skipped"
fi
echo "memory checks: all clean"
