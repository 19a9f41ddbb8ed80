"""Static memory planning for the inference plan: each buffer lives from the step that
writes it to its last reader, and gets an offset in one arena so that buffers alive
at the same time never overlap (greedy by size, lowest offset that fits: the
planners of TFLite and onnxruntime work the same way)."""
import numpy as np

__all__ = ["assign_offsets", "Arena"]

ALIGN = 64   # bytes: every buffer starts on a cache line (and an AVX-512 vector)


def _round(n):
    return -(-n // ALIGN) * ALIGN


def assign_offsets(buffers):
    """buffers: {key: (nbytes, first_step, last_step)} -> ({key: offset}, arena bytes)."""
    placed = []                       # (offset, end, first, last)
    offsets = {}
    for key, (nbytes, first, last) in sorted(buffers.items(),
                                             key=lambda kv: (-kv[1][0], kv[1][1])):
        size = _round(nbytes)
        clash = sorted((o, e) for o, e, f, l in placed if f <= last and first <= l)
        off = 0
        for o, e in clash:
            if off + size <= o:
                break
            off = max(off, e)
        offsets[key] = off
        placed.append((off, off + size, first, last))
    total = max((e for _, e, _, _ in placed), default=0)
    return offsets, total


class Arena:
    """One float32 allocation, 64-byte aligned, handing out C-contiguous views."""

    def __init__(self, nbytes):
        extra = ALIGN // 4
        self._raw = np.empty(nbytes // 4 + extra, np.float32)
        skip = (-self._raw.ctypes.data % ALIGN) // 4
        self.data = self._raw[skip:skip + nbytes // 4]
        self.nbytes = nbytes

    def view(self, offset, shape):
        n = int(np.prod(shape, dtype=np.int64))
        return self.data[offset // 4: offset // 4 + n].reshape(shape)
