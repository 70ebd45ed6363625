"""Outcomes of storage operations the service must tell apart.

The storage layer raises these instead of SDK exceptions so the SCIM core
never imports ``azure.*``: the core does no I/O (the import rule in
``shared/__init__.py``, checked by ``tests/unit/test_layers.py``).
"""

from __future__ import annotations


class StorageError(Exception):
    """Base class of storage outcomes."""


class RowOutcome(StorageError):
    """An outcome about one row: ``row_key`` names it."""

    def __init__(self, row_key: str) -> None:
        super().__init__(row_key)
        self.row_key = row_key


class AlreadyExists(RowOutcome):
    """An insert hit an existing row (a uniqueness clash)."""


class Missing(RowOutcome):
    """A row an operation required does not exist."""


class Changed(RowOutcome):
    """An optimistic-concurrency condition failed on the row: someone wrote in between."""


class WritesClosed(StorageError):
    """The tenant's write guard row is gone (tenant disabled or deleted, or
    created before the guard existed): the transaction committed nothing."""


class StorageUnavailable(StorageError):
    """Storage did not answer in time or refused service; retry later (503)."""


class TooLarge(StorageError):
    """The resource does not fit the storage entity limits."""
