/* Every micro-kernel of every registered kernel table this CPU can run, on edge
 * tiles, against a double-precision reference computed from the same packed operands
 * and against the portable table's kernel: GEMM with m < mr, n < nr, k = 1 and odd k;
 * direct and depthwise rows with odd widths, strides and dilations; Winograd
 * transforms on partial tiles; pooling windows at the edges (through the public entry
 * points, one table at a time). Data movement and max/arg-max must match portable
 * bit for bit; arithmetic within a few float32 roundings of the magnitudes summed
 * (FMA contraction and vector widths change the rounding, never the math). Every
 * kernel must leave memory outside its outputs untouched.
 *
 * Built against the internal headers: -Isrc_c -Isrc_c/include, linked with the
 * library (tests/kernels/test_ukernels.py, tests/c/run_checks.sh).
 * Exit status 0 = pass. Tables the CPU lacks are reported as skipped. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/registry.h"

static int failures;
#define CHECK(cond, ...)                                                        \
    do {                                                                        \
        if (!(cond)) {                                                          \
            if (failures++ < 25) {                                              \
                fprintf(stderr, "FAIL %s:%d %s: ", __FILE__, __LINE__, g_table); \
                fprintf(stderr, __VA_ARGS__);                                   \
                fputc('\n', stderr);                                            \
            }                                                                   \
        }                                                                       \
    } while (0)

static const char *g_table = "";
static const float SENTINEL = 12345.0f;
/* Error allowed per unit of summed magnitude: a few roundings of float32. */
static const double TOL = 8.0 * FLT_EPSILON;

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static float rnd(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((double)(rng >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}
static float *buf_rand(int64_t n) {
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    for (int64_t i = 0; i < n; i++) p[i] = rnd();
    return p;
}
static float *buf_fill(int64_t n, float v) {
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    for (int64_t i = 0; i < n; i++) p[i] = v;
    return p;
}
static int near(double got, double want, double mag) {
    return fabs(got - want) <= TOL * mag + 1e-30;
}
static int same_bits(float a, float b) { return memcmp(&a, &b, sizeof a) == 0; }

/* ------------------------------------------------------------------ GEMM */

static void test_gemm(const fc_kernels *t, const fc_kernels *ref) {
    const fc_gemm_config *g = &t->gemm;
    const int64_t mr = g->mr, nr = g->nr, ldc = g->nr + 3;
    CHECK(mr > 0 && nr > 0 && mr * nr <= FC_GEMM_TILE_MAX, "tile %ldx%ld", (long)mr, (long)nr);
    CHECK(g->mc % mr == 0 && g->nc % nr == 0 && g->kc > 0, "blocking mc %ld nc %ld kc %ld",
          (long)g->mc, (long)g->nc, (long)g->kc);
    const int64_t kcs[] = {1, 2, 3, 7, 16, 17, 67};
    const float ab[][2] = {{1.0f, 0.0f}, {0.5f, -1.25f}, {-2.0f, 1.0f}};
    for (size_t ki = 0; ki < sizeof kcs / sizeof kcs[0]; ki++)
        for (int64_t m = 1; m <= mr; m += (m == 1 && mr > 2) ? mr - 2 : 1)
            for (int64_t n = 1; n <= nr; n += (n == 1 && nr > 2) ? nr - 2 : 1)
                for (int v = 0; v < 3; v++) {
                    int64_t kc = kcs[ki];
                    float alpha = ab[v][0], beta = ab[v][1];
                    /* Packed panels as the packing routines leave them: zero past m, n. */
                    float *a = buf_rand(kc * mr), *b = buf_rand(kc * nr);
                    for (int64_t p = 0; p < kc; p++) {
                        for (int64_t i = m; i < mr; i++) a[p * mr + i] = 0.0f;
                        for (int64_t j = n; j < nr; j++) b[p * nr + j] = 0.0f;
                    }
                    float *c0 = buf_rand(mr * ldc);
                    float *c = buf_fill(mr * ldc, SENTINEL);
                    for (int64_t i = 0; i < mr; i++)
                        for (int64_t j = 0; j < nr; j++)
                            c[i * ldc + j] = beta == 0.0f ? NAN : c0[i * ldc + j]; /* never read */
                    g->ukernel(kc, a, b, c, ldc, alpha, beta);
                    for (int64_t i = 0; i < mr; i++)
                        for (int64_t j = 0; j < ldc; j++) {
                            float got = c[i * ldc + j];
                            if (j >= nr) {
                                CHECK(same_bits(got, SENTINEL), "gemm wrote past nr at (%ld,%ld)",
                                      (long)i, (long)j);
                                continue;
                            }
                            double s = 0.0, mag = 0.0;
                            for (int64_t p = 0; p < kc; p++) {
                                s += (double)a[p * mr + i] * b[p * nr + j];
                                mag += fabs((double)a[p * mr + i] * b[p * nr + j]);
                            }
                            double cb = beta == 0.0f ? 0.0 : (double)beta * c0[i * ldc + j];
                            double want = alpha * s + cb;
                            mag = fabs(alpha) * mag + fabs(cb);
                            CHECK(near(got, want, mag), "gemm kc %ld m %ld n %ld (%ld,%ld): %g vs %g",
                                  (long)kc, (long)m, (long)n, (long)i, (long)j, got, want);
                            if (i >= m || j >= n) /* padding: alpha * 0 + beta * c, exactly */
                                CHECK(same_bits(got, (float)cb), "gemm edge (%ld,%ld) %g vs %g",
                                      (long)i, (long)j, got, cb);
                        }
                    /* The portable kernel on the same operands, where its tile covers m x n. */
                    const fc_gemm_config *r = &ref->gemm;
                    if (t != ref && m <= r->mr && n <= r->nr) {
                        float *ra = calloc((size_t)(kc * r->mr), sizeof(float));
                        float *rb = calloc((size_t)(kc * r->nr), sizeof(float));
                        float *rc = calloc((size_t)(r->mr * r->nr), sizeof(float));
                        for (int64_t p = 0; p < kc; p++) {
                            for (int64_t i = 0; i < m; i++) ra[p * r->mr + i] = a[p * mr + i];
                            for (int64_t j = 0; j < n; j++) rb[p * r->nr + j] = b[p * nr + j];
                        }
                        for (int64_t i = 0; i < m; i++)
                            for (int64_t j = 0; j < n; j++) rc[i * r->nr + j] = c0[i * ldc + j];
                        r->ukernel(kc, ra, rb, rc, r->nr, alpha, beta);
                        for (int64_t i = 0; i < m; i++)
                            for (int64_t j = 0; j < n; j++) {
                                double mag = 0.0;
                                for (int64_t p = 0; p < kc; p++)
                                    mag += fabs((double)a[p * mr + i] * b[p * nr + j]);
                                mag = fabs(alpha) * mag + fabs((double)beta * c0[i * ldc + j]);
                                CHECK(near(c[i * ldc + j], rc[i * r->nr + j], 2 * mag),
                                      "gemm vs portable (%ld,%ld)", (long)i, (long)j);
                            }
                        free(ra);
                        free(rb);
                        free(rc);
                    }
                    free(a);
                    free(b);
                    free(c0);
                    free(c);
                }
    /* The transposing pack moves data: bit-exact, nothing written past w * kc. */
    if (g->pack_transposed) {
        const int64_t pk[] = {1, 7, 8, 9, 17}, pw[] = {8, 16, 32};
        for (int x = 0; x < 5; x++)
            for (int y = 0; y < 3; y++) {
                int64_t kc = pk[x], w = pw[y], ld = kc + 3;
                float *src = buf_rand(w * ld), *dst = buf_fill(w * kc + 16, SENTINEL);
                g->pack_transposed(src, ld, kc, w, dst);
                for (int64_t p = 0; p < kc; p++)
                    for (int64_t j = 0; j < w; j++)
                        CHECK(same_bits(dst[p * w + j], src[j * ld + p]), "pack kc %ld w %ld",
                              (long)kc, (long)w);
                for (int64_t i = w * kc; i < w * kc + 16; i++)
                    CHECK(same_bits(dst[i], SENTINEL), "pack wrote past its panel");
                free(src);
                free(dst);
            }
    }
}

/* ------------------------------------------------------- direct convolution */

static int64_t col_offset(int64_t s, int64_t dil_w, int64_t sw, int64_t phase) {
    return ((s * dil_w) % sw) * phase + (s * dil_w) / sw;
}

static void run_direct(const fc_kernels *t, int64_t cin, int64_t R, int64_t S, int64_t sh,
                       int64_t sw, int64_t dil, int64_t OH, int64_t OW, int64_t kb, int bias_on,
                       float **out) {
    int64_t Hp = (OH - 1) * sh + (R - 1) * dil + 1, Wp = (OW - 1) * sw + (S - 1) * dil + 1;
    int64_t phase = (Wp + sw - 1) / sw, row = phase * sw, plane = row * Hp;
    int64_t soff[16];
    for (int64_t s = 0; s < S; s++) soff[s] = col_offset(s, dil, sw, phase);
    uint64_t seed = rng;
    float *xq = buf_rand(cin * plane + FC_DIRECT_SLACK);
    float *wp = buf_rand(cin * R * S * FC_DIRECT_KB);
    float *bias = buf_rand(FC_DIRECT_KB);
    int64_t y_plane = OH * OW + 5;
    float *y = buf_fill(FC_DIRECT_KB * y_plane, SENTINEL);
    int64_t oh0 = OH > 2 ? 1 : 0, oh1 = OH;
    fc_direct_rows a = {xq, cin, plane, row, phase, R, S, sh, sw, dil, dil, OH, OW, soff, wp,
                        kb, bias_on ? bias : NULL, y, y_plane};
    t->conv_direct.forward(&a, oh0, oh1);
    for (int64_t k = 0; k < FC_DIRECT_KB; k++)
        for (int64_t i = 0; i < y_plane; i++) {
            int64_t oh = i / OW, ow = i % OW;
            float got = y[k * y_plane + i];
            if (k >= kb || i >= OH * OW || oh < oh0 || oh >= oh1) {
                CHECK(same_bits(got, SENTINEL), "direct wrote outside (k %ld, %ld)", (long)k,
                      (long)i);
                continue;
            }
            double want = bias_on ? bias[k] : 0.0, mag = fabs(want);
            for (int64_t c = 0; c < cin; c++)
                for (int64_t r = 0; r < R; r++)
                    for (int64_t s = 0; s < S; s++) {
                        double p = (double)wp[((c * R + r) * S + s) * FC_DIRECT_KB + k] *
                                   xq[c * plane + (oh * sh + r * dil) * row + soff[s] + ow];
                        want += p;
                        mag += fabs(p);
                    }
            CHECK(near(got, want, mag), "direct %ldx%ld s%ld,%ld d%ld OW %ld (k %ld, %ld, %ld)",
                  (long)R, (long)S, (long)sh, (long)sw, (long)dil, (long)OW, (long)k, (long)oh,
                  (long)ow);
        }
    *out = y;
    rng = seed; /* the caller replays the same operands on the portable table */
    free(xq);
    free(wp);
    free(bias);
}

static void test_direct(const fc_kernels *t, const fc_kernels *ref) {
    const int64_t shapes[][3] = {{1, 1, 1}, {3, 3, 1}, {2, 5, 2}, {3, 3, 2}};
    const int64_t widths[] = {1, 3, 5, 13, 31, 33};
    for (int sh_i = 0; sh_i < 4; sh_i++)
        for (int wi = 0; wi < 6; wi++)
            for (int st = 1; st <= 2; st++) {
                int64_t R = shapes[sh_i][0], S = shapes[sh_i][1], dil = shapes[sh_i][2];
                int64_t kb = 1 + (wi * 3 + st) % FC_DIRECT_KB, OW = widths[wi], OH = 3;
                float *y, *yr;
                run_direct(t, 3, R, S, st, st, dil, OH, OW, kb, wi % 2, &y);
                run_direct(ref, 3, R, S, st, st, dil, OH, OW, kb, wi % 2, &yr);
                (void)rnd(); /* new operands for the next case */
                for (int64_t i = 0; i < FC_DIRECT_KB * (OH * OW + 5); i++)
                    CHECK(fabs(y[i] - yr[i]) <= 64 * TOL * (1.0 + fabs(yr[i])),
                          "direct vs portable at %ld", (long)i);
                free(y);
                free(yr);
            }
    /* Backward weights: dot products over segments of the packed grad_y. */
    const int64_t kns[] = {1, 2, 3, 5, 8}, taps[] = {1, 2, 4, 9, 10};
    for (int a_i = 0; a_i < 5; a_i++)
        for (int b_i = 0; b_i < 5; b_i++) {
            int64_t kn = kns[a_i], ntaps = taps[b_i], n_img = 1 + (a_i + b_i) % 3;
            int64_t img_group = 1 + b_i % 2, nseg = 1 + a_i % 3, seglen = b_i % 2 ? 32 : 16;
            int64_t xs = seglen + (a_i % 2) * 5, gy_k = nseg * seglen, gy_n = kn * gy_k;
            int64_t toff[16];
            for (int64_t q = 0; q < ntaps; q++) toff[q] = (q * 7 + a_i) % 23;
            int64_t xq_n = (nseg - 1) * xs + 23 + seglen;
            float *xq = buf_rand(n_img * xq_n + 64), *gy = buf_rand(n_img * gy_n);
            int64_t gw_k = ntaps + 2;
            float *gw = buf_fill(kn * gw_k, SENTINEL), *gwr = buf_fill(kn * gw_k, SENTINEL);
            fc_direct_bwd_weights a = {xq, xq_n, gy, gy_k, gy_n, n_img, img_group, kn,
                                       nseg, seglen, xs, ntaps, toff, gw, gw_k};
            t->conv_direct.bwd_weights(&a);
            a.gw = gwr;
            ref->conv_direct.bwd_weights(&a);
            for (int64_t k = 0; k < kn; k++)
                for (int64_t q = 0; q < gw_k; q++) {
                    float got = gw[k * gw_k + q];
                    if (q >= ntaps) {
                        CHECK(same_bits(got, SENTINEL), "direct bwd_weights wrote outside");
                        continue;
                    }
                    double want = 0.0, mag = 0.0;
                    for (int64_t i = 0; i < n_img; i++)
                        for (int64_t sg = 0; sg < nseg; sg++)
                            for (int64_t j = 0; j < seglen; j++) {
                                double p = (double)gy[k * gy_k + i * gy_n + sg * seglen + j] *
                                           xq[i * xq_n + toff[q] + sg * xs + j];
                                want += p;
                                mag += fabs(p);
                            }
                    CHECK(near(got, want, mag), "direct bwd_weights kn %ld taps %ld (%ld, %ld)",
                          (long)kn, (long)ntaps, (long)k, (long)q);
                    CHECK(near(got, gwr[k * gw_k + q], 2 * mag), "bwd_weights vs portable");
                }
            free(xq);
            free(gy);
            free(gw);
            free(gwr);
        }
}

/* ---------------------------------------------------------------- depthwise */

static void test_depthwise(const fc_kernels *t, const fc_kernels *ref) {
    /* R, S, nq, stride, dilation: the 3x3 single-plane paths (row pairs at stride 1),
     * 3x3 over several planes, and general shapes. */
    const int64_t cases[][5] = {{3, 3, 1, 1, 1}, {3, 3, 1, 2, 1}, {3, 3, 2, 1, 1},
                                {3, 3, 1, 1, 2}, {5, 5, 1, 1, 1}, {1, 7, 3, 2, 1},
                                {2, 1, 1, 1, 3}};
    const int64_t widths[] = {1, 5, 7, 17, 31, 65, 67};
    for (int ci = 0; ci < 7; ci++)
        for (int wi = 0; wi < 7; wi++) {
            int64_t R = cases[ci][0], S = cases[ci][1], nq = cases[ci][2], st = cases[ci][3];
            int64_t dil = cases[ci][4], OW = widths[wi], OH = 1 + (wi % 3) * 2;
            int64_t Hp = (OH - 1) * st + (R - 1) * dil + 1, Wp = (OW - 1) * st + (S - 1) * dil + 1;
            int64_t phase = (Wp + st - 1) / st, row = phase * st, q_plane = row * Hp;
            int64_t soff[16];
            for (int64_t s = 0; s < S; s++) soff[s] = col_offset(s, dil, st, phase);
            float *xq = buf_rand(nq * q_plane + FC_DEPTHWISE_SLACK), *w = buf_rand(nq * R * S);
            float bias = rnd();
            float *y = buf_fill(OH * OW + 8, SENTINEL), *yr = buf_fill(OH * OW + 8, SENTINEL);
            fc_depthwise_rows a = {xq, nq, q_plane, row, phase, w, R, S, st, st, dil, dil,
                                   soff, OH, OW, bias, y};
            t->depthwise.forward(&a);
            a.y = yr;
            ref->depthwise.forward(&a);
            for (int64_t i = 0; i < OH * OW + 8; i++) {
                if (i >= OH * OW) {
                    CHECK(same_bits(y[i], SENTINEL), "depthwise wrote past its plane");
                    continue;
                }
                int64_t oh = i / OW, ow = i % OW;
                double want = bias, mag = fabs(bias);
                for (int64_t q = 0; q < nq; q++)
                    for (int64_t r = 0; r < R; r++)
                        for (int64_t s = 0; s < S; s++) {
                            double p = (double)w[(q * R + r) * S + s] *
                                       xq[q * q_plane + (oh * st + r * dil) * row + soff[s] + ow];
                            want += p;
                            mag += fabs(p);
                        }
                CHECK(near(y[i], want, mag), "depthwise %ldx%ld nq %ld s%ld d%ld OW %ld (%ld,%ld)",
                      (long)R, (long)S, (long)nq, (long)st, (long)dil, (long)OW, (long)oh, (long)ow);
                CHECK(near(y[i], yr[i], 2 * mag), "depthwise vs portable (%ld,%ld)", (long)oh,
                      (long)ow);
            }
            /* Weight and bias gradient of the same plane (accumulated into). */
            float *gy = buf_rand(OH * OW);
            float gw[64], gwr[64], gb = 0.5f, gbr = 0.5f;
            for (int i = 0; i < 64; i++) gw[i] = gwr[i] = i < R * S ? rnd() : SENTINEL;
            float gw0[64];
            memcpy(gw0, gw, sizeof gw);
            fc_depthwise_bwd_weights g = {xq, row, phase, gy, R, S, st, st, dil, dil, OH, OW,
                                          gw, &gb};
            t->depthwise.bwd_weights(&g);
            g.gw = gwr;
            g.gb = &gbr;
            ref->depthwise.bwd_weights(&g);
            for (int64_t q = 0; q < 64; q++) {
                if (q >= R * S) {
                    CHECK(same_bits(gw[q], SENTINEL), "depthwise bwd_weights wrote outside");
                    continue;
                }
                int64_t r = q / S, s = q % S;
                double want = gw0[q], mag = fabs(want);
                for (int64_t oh = 0; oh < OH; oh++)
                    for (int64_t ow = 0; ow < OW; ow++) {
                        double p = (double)gy[oh * OW + ow] *
                                   xq[(oh * st + r * dil) * row + soff[s] + ow];
                        want += p;
                        mag += fabs(p);
                    }
                CHECK(near(gw[q], want, mag), "depthwise bwd_weights %ldx%ld OW %ld tap %ld",
                      (long)R, (long)S, (long)OW, (long)q);
                CHECK(near(gw[q], gwr[q], 2 * mag), "depthwise bwd_weights vs portable");
            }
            double gbw = 0.5, gbm = 0.5;
            for (int64_t i = 0; i < OH * OW; i++) gbw += gy[i], gbm += fabs(gy[i]);
            CHECK(near(gb, gbw, gbm) && near(gb, gbr, 2 * gbm), "depthwise bias gradient");
            free(gy);
            free(xq);
            free(w);
            free(y);
            free(yr);
        }
}

/* ----------------------------------------------------------------- Winograd */

static void test_winograd(const fc_kernels *t, const fc_kernels *ref) {
    const int64_t tws[] = {1, 3, 5, 8, 17, 33};
    for (int m = 2; m <= 4; m += 2)
        for (int ti = 0; ti < 6; ti++)
            for (int64_t th = 0; th < 2; th++) {
                const int al = m + 2;
                /* Worst-case sums of |coefficients| of the 2-D transforms. */
                const double bound_in = m == 2 ? 4.0 : 64.0, bound_out = m == 2 ? 9.0 : 144.0;
                int64_t TW = tws[ti], phase = TW + 1, qrow = m * phase;
                int64_t rows = th * m + al;
                float *xq = buf_rand(rows * qrow + 64);
                int64_t v_xi = TW + 3;
                float *v = buf_fill(al * al * v_xi, SENTINEL), *vr = buf_fill(al * al * v_xi, SENTINEL);
                fc_winograd_input in = {xq, qrow, phase, th, TW, v, v_xi};
                (m == 2 ? t->winograd.input_2x2 : t->winograd.input_4x4)(&in);
                in.v = vr;
                (m == 2 ? ref->winograd.input_2x2 : ref->winograd.input_4x4)(&in);
                for (int64_t i = 0; i < al * al * v_xi; i++) {
                    if (i % v_xi >= TW) {
                        CHECK(same_bits(v[i], SENTINEL), "winograd input wrote outside");
                        continue;
                    }
                    CHECK(fabs(v[i] - vr[i]) <= TOL * bound_in, "winograd input F(%dx%d) TW %ld: %g vs %g",
                          m, m, (long)TW, v[i], vr[i]);
                }
                /* Output transform of the same tile row into a clipped plane. */
                int64_t m_xi = TW + 3;
                float *mm = buf_rand(al * al * m_xi + 64);
                for (int clip = 0; clip < 2; clip++) {
                    int64_t OH = th * m + (clip ? 1 : m), OW = TW * m - (clip ? m - 1 : 0);
                    float *y = buf_fill(OH * OW + 8, SENTINEL), *yr = buf_fill(OH * OW + 8, SENTINEL);
                    float bias = rnd();
                    fc_winograd_output out = {mm, m_xi, th, TW, OH, OW, bias, y};
                    int bad = (m == 2 ? t->winograd.output_2x2 : t->winograd.output_4x4)(&out);
                    out.y = yr;
                    int badr = (m == 2 ? ref->winograd.output_2x2 : ref->winograd.output_4x4)(&out);
                    CHECK(!bad && !badr, "winograd output flags finite values");
                    for (int64_t i = 0; i < OH * OW + 8; i++) {
                        if (i >= OH * OW || i / OW < th * m) {
                            CHECK(same_bits(y[i], SENTINEL), "winograd output wrote outside");
                            continue;
                        }
                        CHECK(fabs(y[i] - yr[i]) <= TOL * (bound_out + fabs(bias)),
                              "winograd output F(%dx%d) TW %ld clip %d at %ld: %g vs %g", m, m,
                              (long)TW, clip, (long)i, y[i], yr[i]);
                    }
                    /* A non-finite value the tile stores is flagged. */
                    float keep = mm[0];
                    mm[0] = INFINITY;
                    out.y = y;
                    bad = (m == 2 ? t->winograd.output_2x2 : t->winograd.output_4x4)(&out);
                    CHECK(bad, "winograd output misses an infinity");
                    mm[0] = keep;
                    free(y);
                    free(yr);
                }
                free(mm);
                free(xq);
                free(v);
                free(vr);
            }
}

/* ------------------------------------------------------------------ pooling */

/* Through the public entry points (their per-call tables are the kernels' input),
 * with `t` the active table; results compared with the portable table's. */
static void pool_once(const fc_kernels *t, const fc_pool2d_desc *d, const float *x,
                      const float *gy, float *y, int64_t *idx, float *gx, float *ya, float *gxa,
                      float *gm) {
    /* grad_y holds the larger of the two outputs (dilation shrinks max pooling's). */
    fc_status st = fc_set_isa(t->isa);
    CHECK(st == FC_SUCCESS, "fc_set_isa(%s)", t->name);
    CHECK(fc_max_pool2d_forward(d, x, y, idx) == FC_SUCCESS, "max pool");
    CHECK(fc_max_pool2d_backward(d, gy, x, NULL, gx) == FC_SUCCESS, "max pool backward");
    fc_pool2d_desc a = *d;
    a.dilation_h = a.dilation_w = 1;
    if (fc_avg_pool2d_forward(&a, x, ya) == FC_SUCCESS)
        CHECK(fc_avg_pool2d_backward(&a, gy, gxa) == FC_SUCCESS, "avg pool backward");
    CHECK(fc_global_avg_pool2d_forward(d->N, d->C, d->H, d->W, x, gm) == FC_SUCCESS, "global avg");
    CHECK(fc_global_max_pool2d_forward(d->N, d->C, d->H, d->W, x, gm + d->N * d->C) == FC_SUCCESS,
          "global max");
}

static void test_pool(const fc_kernels *t, const fc_kernels *ref) {
    /* H, W, k, stride, pad, dilation, ceil: windows hanging over every edge. */
    const int64_t cases[][7] = {{7, 9, 3, 2, 1, 1, 1}, {5, 33, 2, 2, 0, 1, 1}, {8, 17, 3, 1, 1, 2, 0},
                                {1, 1, 1, 1, 0, 1, 0}, {6, 67, 5, 3, 2, 1, 1}, {9, 5, 4, 1, 2, 1, 0}};
    for (int ci = 0; ci < 6; ci++)
        for (int cip = 0; cip < 2; cip++) {
            const int64_t *c = cases[ci];
            fc_pool2d_desc d = {2, 3, c[0], c[1], c[2], c[2], c[3], c[3], c[4], c[4], c[4], c[4],
                                c[5], c[5], (int)c[6], cip};
            fc_pool2d_desc da = d;
            da.dilation_h = da.dilation_w = 1; /* average pooling has none */
            int64_t OH, OW, OHa, OWa;
            if (fc_pool2d_output_shape(&d, &OH, &OW) != FC_SUCCESS ||
                fc_pool2d_output_shape(&da, &OHa, &OWa) != FC_SUCCESS)
                continue;
            int64_t nin = d.N * d.C * d.H * d.W, nout = d.N * d.C * OH * OW;
            int64_t nouta = d.N * d.C * OHa * OWa;
            float *x = buf_rand(nin), *gy = buf_rand(nout > nouta ? nout : nouta);
            x[nin / 2] = x[nin / 3]; /* a tie */
            float *y[2], *gx[2], *ya[2], *gxa[2], *gm[2];
            int64_t *idx[2];
            for (int k = 0; k < 2; k++) {
                y[k] = buf_fill(nout, SENTINEL);
                ya[k] = buf_fill(nouta, SENTINEL);
                gx[k] = buf_fill(nin, SENTINEL);
                gxa[k] = buf_fill(nin, SENTINEL);
                gm[k] = buf_fill(2 * d.N * d.C, SENTINEL);
                idx[k] = malloc((size_t)nout * sizeof(int64_t));
                pool_once(k ? ref : t, &d, x, gy, y[k], idx[k], gx[k], ya[k], gxa[k], gm[k]);
            }
            for (int64_t i = 0; i < nout; i++)
                CHECK(same_bits(y[0][i], y[1][i]) && idx[0][i] == idx[1][i],
                      "max pool case %d at %ld", ci, (long)i);
            for (int64_t i = 0; i < nouta; i++) {
                CHECK(fabs(ya[0][i] - ya[1][i]) <= 64 * TOL * (1.0 + fabs(ya[1][i])),
                      "avg pool case %d at %ld: %g vs %g", ci, (long)i, ya[0][i], ya[1][i]);
            }
            for (int64_t i = 0; i < nin; i++) {
                CHECK(fabs(gx[0][i] - gx[1][i]) <= 64 * TOL * (1.0 + fabs(gx[1][i])),
                      "max pool backward case %d at %ld", ci, (long)i);
                CHECK(fabs(gxa[0][i] - gxa[1][i]) <= 64 * TOL * (1.0 + fabs(gxa[1][i])),
                      "avg pool backward case %d at %ld", ci, (long)i);
            }
            for (int64_t i = 0; i < d.N * d.C; i++) {
                CHECK(fabs(gm[0][i] - gm[1][i]) <= 64 * TOL, "global avg at %ld", (long)i);
                CHECK(same_bits(gm[0][d.N * d.C + i], gm[1][d.N * d.C + i]), "global max at %ld",
                      (long)i);
            }
            for (int k = 0; k < 2; k++) {
                free(y[k]);
                free(ya[k]);
                free(gx[k]);
                free(gxa[k]);
                free(gm[k]);
                free(idx[k]);
            }
            free(x);
            free(gy);
        }
}

/* --------------------------------------------------------- batch normalization */

/* The span kernels on awkward lengths (tails, block edges) against double sums. */
static void test_batch_norm(const fc_kernels *t) {
    const fc_batch_norm_ukernels *k = &t->batch_norm;
    CHECK(k->stats && k->apply && k->bwd_reduce && k->bwd_apply, "a NULL batch_norm entry");
    static const int64_t lens[] = {1, 3, 7, 8, 15, 17, 31, 33, 100, 1023, 1025, 2049};
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        int64_t n = lens[li];
        float *x = buf_rand(n), *gy = buf_rand(n), *y = buf_rand(n), *o = buf_fill(n + 1, SENTINEL);
        for (int64_t i = 0; i < n; i++) x[i] += 3.0f;
        float shift = x[0], mean = 3.0f, lo = 1e-7f, sc = 1.7f, b = -0.25f;
        double st[2], sr = 0, qr = 0, mag = 0;
        k->stats(x, n, shift, st);
        for (int64_t i = 0; i < n; i++) {
            double a = (double)x[i] - shift;
            sr += a; qr += a * a; mag += fabs(a);
        }
        CHECK(near(st[0], sr, mag) && near(st[1], qr, qr), "stats n=%ld", (long)n);
        for (int relu = 0; relu < 2; relu++) {
            k->apply(x, n, mean, lo, sc, b, relu, o);
            for (int64_t i = 0; i < n; i++) {
                double w = ((double)x[i] - mean - lo) * sc + b;
                if (relu && w < 0) w = 0;
                CHECK(near(o[i], w, fabs(x[i] - mean) * sc + fabs(b)), "apply n=%ld relu=%d at %ld",
                      (long)n, relu, (long)i);
            }
            CHECK(same_bits(o[n], SENTINEL), "apply wrote past n=%ld", (long)n);
            const float *mask = relu ? y : NULL;
            k->bwd_reduce(gy, x, mask, n, mean, st);
            sr = qr = mag = 0;
            for (int64_t i = 0; i < n; i++) {
                double g = mask && mask[i] <= 0 ? 0.0 : gy[i];
                sr += g; qr += g * ((double)x[i] - mean); mag += fabs(g) * (1 + fabs(x[i] - mean));
            }
            CHECK(near(st[0], sr, mag) && near(st[1], qr, mag), "bwd_reduce n=%ld relu=%d",
                  (long)n, relu);
            k->bwd_apply(gy, x, mask, n, mean, 0.9f, -0.3f, 0.05f, o);
            for (int64_t i = 0; i < n; i++) {
                double g = mask && mask[i] <= 0 ? 0.0 : gy[i];
                double w = g * 0.9 + ((double)x[i] - mean) * -0.3 + 0.05;
                CHECK(near(o[i], w, fabs(g) + fabs(x[i] - mean) + 0.05), "bwd_apply n=%ld at %ld",
                      (long)n, (long)i);
            }
            CHECK(same_bits(o[n], SENTINEL), "bwd_apply wrote past n=%ld", (long)n);
        }
        free(x); free(gy); free(y); free(o);
    }
}

/* --------------------------------------------- im2col in-place forward product */

/* c (+)= a . b over every m (across the register tile's height), nv, kc, with lda and
 * ldb past the used extents; the lanes past nv vectors of each c row stay untouched. */
static void test_conv_inplace(const fc_kernels *t) {
    const int64_t vl = t->conv_inplace.vl;
    CHECK(t->conv_inplace.forward && vl > 0 && t->conv_inplace.mr > 0, "conv_inplace entry");
    for (int64_t m = 1; m <= 27; m += 2)
        for (int64_t nv = 1; nv <= 5; nv++)
            for (int64_t kc = 1; kc <= 37; kc += 12)
                for (int acc = 0; acc < 2; acc++) {
                    int64_t lda = kc + 3, ldb = nv * vl + vl, ldc = ldb, w = nv * vl;
                    float *a = buf_rand(m * lda), *b = buf_rand(kc * ldb);
                    float *c = buf_rand(m * ldc), *c0 = buf_fill(m * ldc, 0.0f);
                    for (int64_t i = 0; i < m; i++)
                        for (int64_t j = w; j < ldc; j++) c[i * ldc + j] = SENTINEL;
                    memcpy(c0, c, (size_t)(m * ldc) * sizeof(float));
                    t->conv_inplace.forward(kc, m, nv, a, lda, b, ldb, c, ldc, acc);
                    for (int64_t i = 0; i < m; i++) {
                        for (int64_t j = 0; j < w; j++) {
                            double want = acc ? c0[i * ldc + j] : 0.0, mag = fabs(want);
                            for (int64_t q = 0; q < kc; q++) {
                                want += (double)a[i * lda + q] * b[q * ldb + j];
                                mag += fabs((double)a[i * lda + q] * b[q * ldb + j]);
                            }
                            CHECK(near(c[i * ldc + j], want, mag),
                                  "conv_inplace m=%ld nv=%ld kc=%ld acc=%d at (%ld, %ld)",
                                  (long)m, (long)nv, (long)kc, acc, (long)i, (long)j);
                        }
                        for (int64_t j = w; j < ldc; j++)
                            CHECK(same_bits(c[i * ldc + j], SENTINEL),
                                  "conv_inplace wrote past nv=%ld", (long)nv);
                    }
                    free(a); free(b); free(c); free(c0);
                }
}

/* ---------------------------------------------------------------- peak FMA */

static void test_peak(const fc_kernels *t) {
    CHECK(t->peak.fma != NULL && t->peak.lanes > 0 && t->peak.lanes % 4 == 0, "peak lanes %d",
          t->peak.lanes);
    double r = t->peak.fma(257, 1.0f);
    CHECK(isfinite(r) && r > 0.0, "peak result %g", r);
}

int main(void) {
    const fc_kernels *ref = NULL, *k;
    for (int i = 0; (k = fc_kernels_table(i)) != NULL; i++)
        if (k->requires == 0) ref = k;
    if (!ref) {
        fprintf(stderr, "no portable table (one that requires nothing)\n");
        return 1;
    }
    int ran = 0;
    fc_isa before = fc_get_isa();
    for (int i = 0; (k = fc_kernels_table(i)) != NULL; i++) {
        g_table = k->name;
        /* Every entry filled: a forgotten one would inherit, never be NULL. */
        CHECK(k->gemm.ukernel && k->conv_direct.forward && k->conv_direct.bwd_weights &&
              k->depthwise.forward && k->depthwise.bwd_weights && k->winograd.input_2x2 &&
              k->winograd.input_4x4 && k->winograd.output_2x2 && k->winograd.output_4x4 &&
              k->pool.max_fwd && k->pool.argmax && k->pool.avg_fwd && k->pool.avg_bwd &&
              k->pool.means && k->pool.maxes && k->pool.max && k->peak.fma,
              "a NULL entry");
        CHECK(fc_kernels_table(i + 1) == NULL || k != fc_kernels_table(i + 1), "duplicate");
        CHECK(!strcmp(fc_isa_name(k->isa), k->name), "name of isa %d", (int)k->isa);
        if (!fc_kernels_runnable(k)) {
            printf("%-8s skipped: the CPU lacks it (requires 0x%x, has 0x%x)\n", k->name,
                   (unsigned)k->requires, (unsigned)fc_cpu_caps());
            continue;
        }
        int before_failures = failures;
        test_gemm(k, ref);
        test_direct(k, ref);
        test_depthwise(k, ref);
        test_winograd(k, ref);
        test_pool(k, ref);
        test_batch_norm(k);
        test_conv_inplace(k);
        test_peak(k);
        printf("%-8s %s\n", k->name, failures == before_failures ? "ok" : "FAILED");
        ran++;
    }
    fc_set_isa(before);
    if (failures) {
        printf("%d failures\n", failures);
        return 1;
    }
    printf("all kernel tables agree (%d run)\n", ran);
    return 0;
}
