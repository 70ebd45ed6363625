"""Import time of the app against its heavy dependencies (``cold``)."""

from __future__ import annotations

from ..harness import median, ratio, time_fresh_process
from .common import rounded

APP_IMPORT = "import function_app"
FLOOR_IMPORT = "import azure.functions, azure.data.tables, azure.identity"


def run_cold_start(runs: int = 7) -> dict:
    """Median wall time of a fresh interpreter importing the app vs importing
    only its heavy dependencies, ``runs`` times each, interleaved so drift
    hits both alike.  (The interpreter's own start-up is in both.)"""
    app, floor = [], []
    time_fresh_process("pass")  # warm the OS file cache once
    for _ in range(runs):
        app.append(time_fresh_process(APP_IMPORT))
        floor.append(time_fresh_process(FLOOR_IMPORT))
    return {"runs": runs, "app_import_ms": rounded(median(app) * 1000), "floor_import_ms": rounded(median(floor) * 1000),
            "app_over_floor": rounded(ratio(median(app), median(floor)), 2),
            "app_samples_ms": [round(x * 1000, 1) for x in app], "floor_samples_ms": [round(x * 1000, 1) for x in floor]}
