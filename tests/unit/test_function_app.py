"""The Functions entry point: one anonymous trigger per SCIM route under /scim/v2."""

from __future__ import annotations

import json
from pathlib import Path

import azure.functions as func

import function_app
from scripts.devhost_routing import registered_functions
from shared.scim.endpoints import ENDPOINTS

ROOT = Path(__file__).resolve().parents[2]
ROUTES = {
    "Users", "Users/{id}", "Users/.search", "Groups", "Groups/{id}", "Groups/.search", ".search",
    "ServiceProviderConfig", "Schemas", "Schemas/{id}", "ResourceTypes", "ResourceTypes/{id}", "oauth/token", "openapi.json", "Events", ".well-known/jwks.json",
    "{*path}",
}
assert ROUTES == {e.route for e in ENDPOINTS}  # the endpoint table is the one list; this is what it must hold


def _triggers():
    from scripts.devhost_routing import registered_functions

    return [f.get_trigger() for f in registered_functions(function_app.app)]


def test_one_anonymous_trigger_per_route():
    triggers = [t for t in _triggers() if t.get_binding_name() == "httpTrigger"]
    assert sorted(t.route for t in triggers) == sorted(ROUTES)
    assert all(t.auth_level == func.AuthLevel.ANONYMOUS for t in triggers)


def test_each_trigger_has_the_function_name_of_its_endpoint():
    """The host indexes functions by name: the table's names, one each, the catch-all last."""
    from scripts.devhost_routing import registered_functions

    http = [f for f in registered_functions(function_app.app) if f.get_trigger().get_binding_name() == "httpTrigger"]
    assert [(f.get_function_name(), f.get_trigger().route) for f in http] == [(e.function, e.route) for e in ENDPOINTS]


def test_timers_enforce_retention_daily_and_deliver_events_every_minute():
    timers = {f.get_function_name(): f.get_trigger() for f in registered_functions(function_app.app)
              if f.get_trigger().get_binding_name() == "timerTrigger"}
    assert {name: t.schedule for name, t in timers.items()} == {"audit_retention": "0 17 3 * * *",
                                                                "event_delivery": "0 * * * * *"}


def test_host_json_puts_the_scim_base_at_scim_v2():
    host = json.loads((ROOT / "host.json").read_text())
    assert host["extensions"]["http"]["routePrefix"] == "scim/v2"


def test_importing_the_app_builds_no_service():
    """Cold start: storage clients and the SCIM core load on the first request."""
    import subprocess
    import sys

    code = "import sys, function_app; print(function_app._service is None, 'shared.web.service' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "False"]
