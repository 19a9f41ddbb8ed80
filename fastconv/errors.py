"""Exceptions fastconv raises beyond the built-in ValueError, TypeError and MemoryError."""


class UnsupportedError(NotImplementedError):
    """The arguments are legal but the requested algorithm or ISA cannot serve them."""
