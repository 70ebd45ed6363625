"""The Functions entry point: one anonymous trigger per route, SCIM under /scim/v2, sign-in at the root."""

from __future__ import annotations

import json
from pathlib import Path

import azure.functions as func

import function_app
from scripts.devhost_routing import registered_functions
from shared.scim.endpoints import ENDPOINTS

ROOT = Path(__file__).resolve().parents[2]
SCIM_ROUTES = {
    "Users", "Users/{id}", "Users/.search", "Groups", "Groups/{id}", "Groups/.search", ".search", "Bulk",
    "ServiceProviderConfig", "Schemas", "Schemas/{id}", "ResourceTypes", "ResourceTypes/{id}", "oauth/token", "openapi.json", "Events", ".well-known/jwks.json",
    "Me", "{*path}",
}
SIGNIN_ROUTES = {".well-known/openid-configuration", "auth/authorize", "auth/callback", "auth/token", "auth/userinfo"}
ROUTES = {f"scim/v2/{route}" for route in SCIM_ROUTES} | SIGNIN_ROUTES
assert ROUTES == {e.path for e in ENDPOINTS}  # the endpoint table is the one list; this is what it must hold


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
    assert [(f.get_function_name(), f.get_trigger().route) for f in http] == [(e.function, e.path) for e in ENDPOINTS]


def test_timers_enforce_retention_daily_and_deliver_events_every_minute():
    timers = {f.get_function_name(): f.get_trigger() for f in registered_functions(function_app.app)
              if f.get_trigger().get_binding_name() == "timerTrigger"}
    assert {name: t.schedule for name, t in timers.items()} == {"audit_retention": "0 17 3 * * *",
                                                                "event_delivery": "0 * * * * *"}


def test_host_json_puts_the_scim_base_at_scim_v2_and_sign_in_at_the_root():
    """The route prefix is empty so that sign-in can live at the root; every
    SCIM route is still below /scim/v2, where Entra's Tenant URL points."""
    host = json.loads((ROOT / "host.json").read_text())
    assert host["extensions"]["http"]["routePrefix"] == ""
    scim = [e.path for e in ENDPOINTS if e.base]
    assert scim and all(path.startswith("scim/v2/") for path in scim)
    assert {e.path for e in ENDPOINTS if not e.base} == {
        ".well-known/openid-configuration", "auth/authorize", "auth/callback", "auth/token", "auth/userinfo"}
    assert len({e.route for e in ENDPOINTS}) == len(ENDPOINTS)  # the dispatcher's key


def test_importing_the_app_builds_no_service():
    """Cold start: storage clients and the SCIM core load on the first request."""
    import subprocess
    import sys

    code = "import sys, function_app; print(function_app._service is None, 'shared.web.service' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "False"]
