"""Outcomes of storage operations the service must tell apart.

The storage layer raises these instead of SDK exceptions so the SCIM core
never imports ``azure.*`` (DESIGN.md: the core is I/O-free).
"""

from __future__ import annotations


class StorageError(Exception):
    """Base class of storage outcomes."""


class AlreadyExists(StorageError):
    """An insert hit an existing row: ``row_key`` names it (a uniqueness clash)."""

    def __init__(self, row_key: str) -> None:
        super().__init__(row_key)
        self.row_key = row_key


class Missing(StorageError):
    """A row an operation required does not exist: ``row_key`` names it."""

    def __init__(self, row_key: str) -> None:
        super().__init__(row_key)
        self.row_key = row_key


class Changed(StorageError):
    """An optimistic-concurrency condition failed: someone wrote in between."""


class StorageUnavailable(StorageError):
    """Storage did not answer in time or refused service; retry later (503)."""


class TooLarge(StorageError):
    """The resource does not fit the storage entity limits."""
