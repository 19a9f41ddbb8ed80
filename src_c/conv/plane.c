/* The padded, stride-phase plane packer shared by direct, depthwise and Winograd
 * convolution (see plane.h). */
#include <string.h>

#include "plane.h"

fc_plane_geom fc_plane_geom_make(int64_t H, int64_t W, int64_t top, int64_t left, int64_t Hp,
                                 int64_t Wp, int64_t sh, int64_t sw, int64_t nph) {
    fc_plane_geom g = {H, W, top, left, Hp, Wp, sh, sw, nph, 0, 0, 0};
    g.phase = fc_ceil_div(Wp, nph);
    g.row = g.phase * nph;
    g.plane = g.row * Hp;
    return g;
}

/* Zero-upsampled source (backward-data with a stride): scatter, then done. */
static void pack_sampled(const fc_plane_geom *g, const float *src, float *dst) {
    memset(dst, 0, (size_t)g->plane * sizeof(float));
    for (int64_t i = 0; i < g->H; i++) {
        int64_t pr = g->top + i * g->sh;
        if (pr < 0 || pr >= g->Hp) continue;
        float *drow = dst + pr * g->row;
        const float *srow = src + i * g->W;
        for (int64_t j = 0; j < g->W; j++) {
            int64_t pc = g->left + j * g->sw;
            if (pc < 0 || pc >= g->Wp) continue;
            drow[(pc % g->nph) * g->phase + pc / g->nph] = srow[j];
        }
    }
}

void fc_plane_pack(const fc_plane_geom *g, const float *src, float *dst) {
    if (g->sh != 1 || g->sw != 1) {
        pack_sampled(g, src, dst);
        return;
    }
    /* Source columns [j0, j1) land at padded columns left + j; each padded row is
     * written once (rows outside the source and the padding columns as zeros). */
    int64_t j0 = fc_max64(0, -g->left), j1 = fc_min64(g->W, g->Wp - g->left);
    for (int64_t pr = 0; pr < g->Hp; pr++) {
        float *drow = dst + pr * g->row;
        int64_t i = pr - g->top;
        if (i < 0 || i >= g->H || j0 >= j1) {
            memset(drow, 0, (size_t)g->row * sizeof(float));
            continue;
        }
        const float *srow = src + i * g->W;
        if (g->nph == 1) {
            int64_t c0 = g->left + j0, c1 = g->left + j1;
            memset(drow, 0, (size_t)c0 * sizeof(float));
            memcpy(drow + c0, srow + j0, (size_t)(j1 - j0) * sizeof(float));
            memset(drow + c1, 0, (size_t)(g->row - c1) * sizeof(float));
        } else {
            for (int64_t p = 0; p < g->nph; p++) {
                float *dp = drow + p * g->phase;
                for (int64_t q = 0; q < g->phase; q++) {
                    int64_t j = q * g->nph + p - g->left;
                    dp[q] = (j >= j0 && j < j1) ? srow[j] : 0.0f;
                }
            }
        }
    }
}
