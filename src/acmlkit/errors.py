"""Exceptions that the CLI turns into one clear line instead of a traceback."""


class DataError(ValueError):
    """Input data is malformed: bad shape, NaN, non-numeric cell, corrupt file."""


class InsufficientMemory(DataError, MemoryError):
    """Work refused up front: its estimated memory exceeds what the machine has free."""


class ChecksumError(DataError):
    """A downloaded or cached file does not match its published checksum."""


class DownloadError(OSError):
    """A file could not be fetched (usually: this machine is offline)."""


class RunFailed(Exception):
    """A run finished but part of it failed (some trials of a sweep); exit code 1."""
