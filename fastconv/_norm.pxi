# Crossing for batch normalization (see _C.pyx for the helpers).

cdef fc_batch_norm2d_desc _bn_desc(tuple xs, double eps, double momentum, bint relu):
    cdef fc_batch_norm2d_desc d
    d.N, d.C, d.H, d.W = xs
    d.eps = eps
    d.momentum = momentum
    d.relu = relu
    return d


def batch_norm2d_forward(x, gamma, beta, running_mean, running_var, y, save_mean,
                         save_invstd, bint training, double momentum, double eps, bint relu):
    cdef fc_batch_norm2d_desc d = _bn_desc(x.shape, eps, momentum, relu)
    cdef int64_t n = d.N * d.C * d.H * d.W, C = d.C
    cdef const float *px = _fptr(x, n, "x")
    cdef const float *pg = _fptr_opt(gamma, C, "gamma")
    cdef const float *pb = _fptr_opt(beta, C, "beta")
    cdef float *prm = _fptr_opt(running_mean, C, "running_mean", training)
    cdef float *prv = _fptr_opt(running_var, C, "running_var", training)
    cdef float *py = _fptr(y, n, "out", True)
    cdef float *psm = _fptr_opt(save_mean, C, "save_mean", True)
    cdef float *psi = _fptr_opt(save_invstd, C, "save_invstd", True)
    cdef fc_status st
    with nogil:
        if training:
            st = fc_batch_norm2d_forward_training(&d, px, pg, pb, prm, prv, py, psm, psi)
        else:
            st = fc_batch_norm2d_forward_inference(&d, px, pg, pb, prm, prv, py)
    _check(st, "batch_norm2d")


def batch_norm2d_backward(gy, x, y, gamma, save_mean, save_invstd, gx, ggamma, gbeta,
                          bint relu):
    cdef fc_batch_norm2d_desc d = _bn_desc(x.shape, 0.0, 0.0, relu)
    cdef int64_t n = d.N * d.C * d.H * d.W, C = d.C
    cdef const float *pgy = _fptr(gy, n, "grad_out")
    cdef const float *px = _fptr(x, n, "x")
    cdef const float *py = _fptr_opt(y, n, "y")
    cdef const float *pg = _fptr_opt(gamma, C, "gamma")
    cdef const float *psm = _fptr(save_mean, C, "save_mean")
    cdef const float *psi = _fptr(save_invstd, C, "save_invstd")
    cdef float *pgx = _fptr(gx, n, "grad_x", True)
    cdef float *pgg = _fptr(ggamma, C, "grad_gamma", True)
    cdef float *pgb = _fptr(gbeta, C, "grad_beta", True)
    cdef fc_status st
    with nogil:
        st = fc_batch_norm2d_backward(&d, pgy, px, py, pg, psm, psi, pgx, pgg, pgb)
    _check(st, "batch_norm2d_backward")
