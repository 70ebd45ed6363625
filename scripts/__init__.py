"""Developer scripts (Azurite, ``make run``, ``make test``); importable by the tests as ``scripts.*``."""
