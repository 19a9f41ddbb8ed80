#!/usr/bin/env bash
# Memory-safety checks of the C library: every tests/c/test_*.c and
# tests/kernels/test_*.c (each table's micro-kernels against portable) built with all of
# src_c/ under AddressSanitizer + UndefinedBehaviorSanitizer and run, the fuzz
# harnesses (tests/c/fuzz_*.c) run under both for FUZZ_SECONDS each, then the C tests
# under valgrind memcheck. The fuzzers use their built-in random driver: the kernels
# use GCC vector extensions that clang 14 rejects, so libFuzzer cannot build them.
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

# The library is compiled once per configuration (in parallel), then linked per test.
lib() {  # lib DIR FLAGS...: objects of every src_c file into DIR/lib.a
    local dir="$1"; shift
    mkdir -p "$dir"
    printf '%s\n' $SRC | xargs -P "$(nproc)" -I{} sh -c \
        "$CC $* -c {} -o \"$dir/\$(echo {} | tr / _).o\""
    ar rcs "$dir/lib.a" "$dir"/*.o
}
echo "== building the library (ASan + UBSan)"
lib "$OUT/san" -O1 $COMMON $SAN

for t in tests/c/test_*.c tests/kernels/test_*.c; do
    name=$(basename "$t" .c)
    echo "== $name (ASan + UBSan)"
    $CC -O1 $COMMON $SAN "$t" "$OUT/san/lib.a" -lm -o "$OUT/$name.san"
    "$OUT/$name.san"
done

for f in tests/c/fuzz_*.c; do
    name=$(basename "$f" .c)
    echo "== $name (ASan + UBSan, ${FUZZ_SECONDS}s of CPU time, built-in driver)"
    $CC -O1 $COMMON $SAN "$f" "$OUT/san/lib.a" -lm -o "$OUT/$name"
    # stderr holds ASan's "failed to allocate" notes for huge legal workspaces
    "$OUT/$name" "$FUZZ_SECONDS" 2>"$OUT/$name.err" || { grep -v "failed to allocate" "$OUT/$name.err" | tail -40; exit 1; }
done

if command -v valgrind >/dev/null; then
    echo "== building the library (plain, for valgrind)"
    lib "$OUT/vg" -O2 $COMMON
    for t in tests/c/test_*.c tests/kernels/test_*.c; do
        name=$(basename "$t" .c)
        echo "== $name (valgrind memcheck)"
        $CC -O2 $COMMON "$t" "$OUT/vg/lib.a" -lm -o "$OUT/$name.vg"
        # valgrind lacks AVX-512 and reports the CPU without it, so the AVX2 and
        # portable paths run; few cases keep it short.
        OMP_NUM_THREADS=2 valgrind -q --error-exitcode=1 --leak-check=full \
            --errors-for-leak-kinds=definite --show-leak-kinds=definite "$OUT/$name.vg" 8
    done
else
    echo "valgrind not found: memcheck skipped"
fi
echo "memory checks: all clean"
