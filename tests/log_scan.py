"""The log scan: every log record of a test run, checked for secrets.

Every record logged while the tests run (the app's "scim" loggers at INFO,
everything else at WARNING) is kept; at the end of the session
(``tests/conftest.py``) each line is checked for the secrets the fixtures
registered (tenant tokens, test passwords) and for anything shaped like a
credential.  A hit fails the run.
"""

from __future__ import annotations

import logging
import re

SECRET_SHAPES = {
    "bearer token": re.compile(r"\b[0-9a-f]{12}\.[A-Za-z0-9_-]{43}\b"),
    "JWT": re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+"),
    "Authorization value": re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9+/=._-]{16,}"),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "client secret": re.compile(r"(?i)client_secret=[^&\s]+"),
}
TEST_PASSWORDS = ("t1meMa$heen",)


class LogCapture(logging.Handler):
    """Keeps every formatted record; :meth:`leaks` scans them."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.lines: list[str] = []
        self.secrets: set[str] = set(TEST_PASSWORDS)

    def install(self) -> None:
        root = logging.getLogger()
        if self not in root.handlers:
            root.addHandler(self)
            root.setLevel(min(root.level or logging.WARNING, logging.INFO))
            logging.getLogger("azure").setLevel(logging.WARNING)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is still kept
            text = str(record.msg)
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.lines.append(text)

    def leaks(self, lines: list[str] | None = None) -> list[str]:
        found = []
        for line in self.lines if lines is None else lines:
            found += [f"registered secret in: {line[:200]}" for secret in self.secrets if secret in line]
            found += [f"{name} in: {line[:200]}" for name, shape in SECRET_SHAPES.items() if shape.search(line)]
        return found


LOG_CAPTURE = LogCapture()
