"""Performance benchmark of the SCIM service (``make bench``, issue 3).

``python -m bench.run [--quick] [sizes...]`` starts Azurite and the app the
way ``make run`` does, drives the app over HTTP on 127.0.0.1 and writes a
Markdown and a JSON report under ``bench-results/<timestamp>/``.  Modules:

* :mod:`bench.harness` -- processes (Azurite, dev host, tenants), the HTTP
  client pool, latency statistics and the RSS sampler;
* :mod:`bench.scenarios` -- what is measured, a module per scenario
  (``entra_plan``, ``entra_cycle``, ``storage_floor``, ``seeding``,
  ``large_groups``, ``paging``, ``cold_start``; helpers in ``common``);
* :mod:`bench.floor` -- :class:`~bench.floor.FloorStore`, the storage-only
  floor the app is compared with;
* :mod:`bench.budgets` -- the storage calls each request should cost;
* :mod:`bench.report` -- targets, PASS/FAIL and the report files;
* :mod:`bench.inject` -- a deliberate regression, to test the gate (``--inject``);
* :mod:`bench.run` -- the command line that ties them together.

Every figure that is judged is a ratio or a median against a baseline
measured in the same run, or a count of storage calls against its budget:
absolute timings on a 2-core machine are noisy.
"""
