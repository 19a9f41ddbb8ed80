"""Exceptions fastconv raises beyond the built-in ValueError, TypeError and MemoryError."""


class UnsupportedError(ValueError, NotImplementedError):
    """The arguments are legal but the requested algorithm or ISA cannot serve them
    (Winograd with a 5x5 kernel). A ValueError, as DESIGN.md's contract says, and a
    NotImplementedError, as NNPACK-style `unsupported_*` statuses are: either catches it."""
