/* The random-input driver every fuzz harness shares when it is not built for
 * libFuzzer (gcc has none): ./fuzz_X SECONDS [SEED] feeds pseudo-random byte strings
 * of up to FUZZ_MAX_INPUT bytes to LLVMFuzzerTestOneInput for SECONDS of CPU time.
 * The including file defines FUZZ_NAME and FUZZ_MAX_INPUT first. */
#ifndef FC_LIBFUZZER
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 10.0;
    unsigned seed = argc > 2 ? (unsigned)atoi(argv[2]) : 1u;
    srand(seed);
    uint8_t data[FUZZ_MAX_INPUT];
    long execs = 0;
    clock_t end = clock() + (clock_t)(seconds * CLOCKS_PER_SEC);
    while (clock() < end) {
        size_t n = (size_t)(rand() % (int)sizeof data);
        for (size_t i = 0; i < n; i++) data[i] = (uint8_t)rand();
        LLVMFuzzerTestOneInput(data, n);
        execs++;
    }
    printf("%s: %ld executions in %.0f s, no crash\n", FUZZ_NAME, execs, seconds);
    return 0;
}
#endif
