"""What the benchmark measures.  Each scenario returns a plain dict of figures.

* :mod:`.entra_plan` -- :func:`~.entra_plan.entra_plan`, the operations of a
  provisioning cycle shaped as Microsoft Entra sends it (both drivers below
  run the same plan), and the request bodies;
* :mod:`.entra_cycle` -- :func:`~.entra_cycle.run_entra_cycle`, the plan
  driven over HTTP by a pool of keep-alive clients: throughput per phase,
  latency percentiles, errors and storage round trips (``X-Storage-Calls``)
  per operation type;
* :mod:`.storage_floor` -- :func:`~.storage_floor.run_storage_floor`, the same
  plan as storage operations issued straight through azure-data-tables
  (:class:`bench.floor.FloorStore`; no SCIM layer, same thread count): the
  throughput the storage itself allows, the denominator of "how close to the
  limit are we";
* :mod:`.seeding` -- :func:`~.seeding.seed_users`, :func:`~.seeding.seed_group`:
  fast seeding through the project's storage layer
  (:class:`shared.storage.table_store.TenantStore`); seeding is not measured;
* :mod:`.large_groups` -- :func:`~.large_groups.run_large_groups`, group
  operations on a 10-member group against a large one: flat means the ratio
  of medians stays near 1;
* :mod:`.paging` -- :func:`~.paging.run_paging`, deep paging: last page
  against first, the whole walk against a raw SDK scan of the same rows,
  totals against a GET by id;
* :mod:`.cold_start` -- :func:`~.cold_start.run_cold_start`, import time of
  ``function_app`` against the import time of its heavy dependencies alone;
* :mod:`.devhost_throughput` -- :func:`~.devhost_throughput.run_devhost_throughput`,
  the dev host's loopback requests/s, latency and CPU per request on a
  request that costs no storage;
* :mod:`.common` -- the small helpers they share.

The memory figure is no scenario of its own: :class:`bench.harness.RssSampler`
samples the dev host during the Entra cycle, large groups and paging.
"""
