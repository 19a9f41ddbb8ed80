# Crossing for the multi-tensor optimizer updates (see _C.pyx for the helpers).
from libc.stdlib cimport malloc, free


cdef class _PtrLists:
    """The C arrays of pointers and sizes of one multi-tensor call: `lists` lists of
    float32 arrays (a None list: NULL pointers), array i of each holding as many
    elements as shapes_of[i]; every list but the second (the gradients) is written."""
    cdef float **ptrs
    cdef int64_t *sizes
    cdef int64_t count
    cdef int nlists

    def __cinit__(self, tuple lists, tuple names, list shapes_of):
        self.count = len(shapes_of)
        self.nlists = len(lists)
        cdef int64_t n = max(self.count, 1)
        self.ptrs = <float **>malloc(sizeof(float *) * n * self.nlists)
        self.sizes = <int64_t *>malloc(sizeof(int64_t) * n)
        if self.ptrs == NULL or self.sizes == NULL:
            raise MemoryError("optimizer update: pointer lists")
        cdef int64_t i
        cdef int l
        for i in range(self.count):
            self.sizes[i] = shapes_of[i].size
        for l in range(self.nlists):
            for i in range(self.count):
                if lists[l] is None or self.sizes[i] == 0:
                    self.ptrs[l * n + i] = NULL
                else:
                    self.ptrs[l * n + i] = _fptr(lists[l][i], self.sizes[i],
                                                 f"{names[l]}[{i}]", l != 1)

    def __dealloc__(self):
        free(self.ptrs)
        free(self.sizes)

    cdef float **at(self, int l) noexcept nogil:
        return self.ptrs + l * max(self.count, 1)


def sgd_update(list params, list grads, momentum_bufs, float lr, float momentum,
               float dampening, float weight_decay, bint nesterov, bint first_step):
    cdef _PtrLists pl = _PtrLists((params, grads, momentum_bufs),
                                  ("params", "grads", "momentum_buffers"), params)
    cdef float **bufs = NULL if momentum_bufs is None else pl.at(2)
    cdef float **p = pl.at(0)
    cdef const float *const *g = <const float *const *>pl.at(1)
    cdef fc_status st
    with nogil:
        st = fc_sgd_update(pl.count, p, g, bufs,
                           pl.sizes, lr, momentum, dampening, weight_decay, nesterov,
                           first_step)
    _check(st, "sgd_update")


def adam_update(list params, list grads, list exp_avgs, list exp_avg_sqs, max_exp_avg_sqs,
                int64_t step, float lr, float beta1, float beta2, float eps,
                float weight_decay, bint decoupled, bint amsgrad):
    cdef _PtrLists pl = _PtrLists((params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs),
                                  ("params", "grads", "exp_avgs", "exp_avg_sqs",
                                   "max_exp_avg_sqs"), params)
    cdef float **vmax = NULL if max_exp_avg_sqs is None else pl.at(4)
    cdef float **p = pl.at(0)
    cdef const float *const *g = <const float *const *>pl.at(1)
    cdef float **m = pl.at(2)
    cdef float **v = pl.at(3)
    cdef fc_status st
    with nogil:
        st = fc_adam_update(pl.count, p, g, m, v, vmax, pl.sizes, step, lr, beta1, beta2,
                            eps, weight_decay, decoupled, amsgrad)
    _check(st, "adam_update")
