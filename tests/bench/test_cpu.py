"""The bench's CPU figures (bench/cpu.py): the counters they come from, the
round trip they are compared with, and the profile's summary."""

from __future__ import annotations

import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from bench.cpu import (AREAS, PACES, AppCpu, combined_round_trips, cpu_seconds, paced_round_trips, raw_round_trip_cpu,
                       summarise)


def test_the_app_cpu_comes_from_the_process_counters_not_the_clock():
    with AppCpu(os.getpid()) as cpu:
        sum(i * i for i in range(2_000_000))  # CPU, whatever the wall time
    assert cpu.seconds is not None and cpu.seconds > 0
    assert cpu.per_request_ms(10) == round(cpu.seconds / 10 * 1000, 3)
    assert cpu_seconds(2**22 + 12345) is None  # no such process


class _Answer(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802 - the http.server name
        self.send_response(403)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_the_raw_round_trip_is_measured_on_a_kept_alive_connection():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        figures = raw_round_trip_cpu(f"http://127.0.0.1:{server.server_port}/devstoreaccount1", calls=50, rounds=3)
    finally:
        server.shutdown()
    assert 0 < figures["cpu_us_per_round_trip"] < 100_000 and figures["client"].startswith("urllib3")
    assert len(figures["cpu_us_per_round"]) == 3


def test_paced_round_trips_cost_their_own_cpu_after_each_idle_gap():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        started = time.monotonic()
        paced = paced_round_trips(f"http://127.0.0.1:{server.server_port}/devstoreaccount1", 50.0, calls=5, rounds=2)
        elapsed = time.monotonic() - started
    finally:
        server.shutdown()
    assert list(paced) == [f"{gap * 1000:g} ms" for gap in PACES]
    for figure in paced.values():
        assert 0 < figure["cpu_us_per_round_trip"] < 100_000  # the calls' CPU, not the idling
        assert figure["over_back_to_back"] == round(figure["cpu_us_per_round_trip"] / 50.0, 2)
    assert elapsed >= sum(PACES) * 5 * 2  # each call after its gap


def test_round_trips_measured_before_and_after_combine_into_the_median_of_all_their_rounds():
    before = {"client": "urllib3 2", "url": "u", "calls_per_round": 500, "rounds": 3,
              "cpu_us_per_round_trip": 150.0, "cpu_us_per_round": [140.0, 150.0, 160.0]}
    after = {**before, "cpu_us_per_round_trip": 230.0, "cpu_us_per_round": [220.0, 230.0, 240.0]}
    combined = combined_round_trips(before, after)
    assert combined["cpu_us_per_round_trip"] == 190.0  # not either measure's own median
    assert combined["rounds"] == 6 and combined["medians_of_each_measure"] == [150.0, 230.0]


def test_the_profile_summary_counts_areas_and_leaves_the_serving_frames_out(tmp_path):
    profile = tmp_path / "profile.txt"
    serve = "run (threading.py:1);handle (server.py:2);ScimService.handle (service.py:3)"
    profile.write_text("\n".join([
        f"{serve};TableClient.submit_transaction (_table_client.py:4);_parsegen (feedparser.py:5) 6",
        f"{serve};TableClient.get_entity (_table_client.py:6) 3",
        f"{serve};LeanTableClient.submit_transaction (tables.py:9);_results (changesets.py:10) 2",
        f"{serve};LeanTableClient.get_entity (tables.py:11);get_entity (entity_reads.py:12) 1",
        "run (threading.py:1);idle (thread.py:7) 1",
        "not a profile line",
    ]) + "\n")
    summary = summarise(profile, top=3)
    assert summary["samples"] == 13
    assert dict(summary["areas"]) == {AREAS[0][0]: 15.4, AREAS[1][0]: 7.7, AREAS[2][0]: 46.2, AREAS[3][0]: 23.1,
                                      AREAS[4][0]: 46.2, AREAS[5][0]: 92.3}
    assert summary["top_inclusive"] == [["ScimService.handle (service.py)", 92.3],
                                        ["TableClient.submit_transaction (_table_client.py)", 46.2],
                                        ["_parsegen (feedparser.py)", 46.2]]
    assert summary["top_self"][0] == ["_parsegen (feedparser.py)", 46.2]
