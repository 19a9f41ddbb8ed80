# Crossing for the fused softmax cross-entropy (see _C.pyx for the helpers; _i64ptr is
# _pool.pxi's).

REDUCTION_NAMES = {FC_REDUCTION_NONE: "none", FC_REDUCTION_MEAN: "mean", FC_REDUCTION_SUM: "sum"}


def softmax_cross_entropy_forward(logits, labels, str reduction, loss, probs):
    """loss (N floats for 'none', 1 otherwise) and, unless None, probs[N][K]."""
    cdef int64_t N = logits.shape[0], K = logits.shape[1]
    cdef fc_reduction red = <fc_reduction>_value_of(REDUCTION_NAMES, reduction,
                                                    "softmax_cross_entropy", "reduction")
    cdef const float *pz = _fptr(logits, N * K, "logits")
    cdef const int64_t *pl = _i64ptr(labels, N, "labels")
    cdef float *ploss = _fptr(loss, N if red == FC_REDUCTION_NONE else 1, "loss", True)
    cdef float *pp = _fptr_opt(probs, N * K, "probs", True)
    cdef fc_status st
    with nogil:
        st = fc_softmax_cross_entropy_forward(N, K, pz, pl, red, ploss, pp)
    if st == FC_INVALID_ARGUMENT:
        raise ValueError(f"softmax_cross_entropy: labels must lie in [0, {K})")
    _check(st, "softmax_cross_entropy")


def softmax_cross_entropy_backward(logits, probs, labels, str reduction, grad_loss,
                                   grad_logits):
    """grad_logits[N][K] from probs (or, when None, logits)."""
    cdef int64_t N = grad_logits.shape[0], K = grad_logits.shape[1]
    cdef fc_reduction red = <fc_reduction>_value_of(REDUCTION_NAMES, reduction,
                                                    "softmax_cross_entropy_backward",
                                                    "reduction")
    cdef const float *pz = _fptr_opt(logits, N * K, "logits")
    cdef const float *pp = _fptr_opt(probs, N * K, "probs")
    cdef const int64_t *pl = _i64ptr(labels, N, "labels")
    cdef const float *pg = _fptr(grad_loss, N if red == FC_REDUCTION_NONE else 1, "grad_loss")
    cdef float *po = _fptr(grad_logits, N * K, "grad_logits", True)
    if pz == NULL and pp == NULL:
        raise ValueError("softmax_cross_entropy_backward: needs logits or probs")
    cdef fc_status st
    with nogil:
        st = fc_softmax_cross_entropy_backward(N, K, pz, pp, pl, red, pg, po)
    if st == FC_INVALID_ARGUMENT:
        raise ValueError(f"softmax_cross_entropy_backward: labels must lie in [0, {K})")
    _check(st, "softmax_cross_entropy_backward")
