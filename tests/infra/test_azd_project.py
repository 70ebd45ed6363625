"""azure.yaml (``azd up``) points at the same templates and script as scripts/deploy.sh."""

from __future__ import annotations

import re

from tests.infra.templates import INFRA, ROOT, parse


def test_azure_yaml_deploys_the_api_service_with_the_hooks():
    text = (ROOT / "azure.yaml").read_text(encoding="utf-8")
    assert re.search(r"^  api:\n    project: \.\n    language: python\n    host: function$", text, re.M)
    assert "run: scripts/deploy.sh --azd-hook postprovision" in text
    assert "run: scripts/deploy.sh --azd-hook postdeploy" in text
    # azd finds the app by this tag.
    assert "'azd-service-name': 'api'" in (INFRA / "app" / "api.bicep").read_text(encoding="utf-8")


def test_hooks_read_outputs_main_bicep_declares():
    script = (ROOT / "scripts" / "deploy.sh").read_text(encoding="utf-8")
    body = script[script.index("outputs_from_azd() {"):]
    body = body[:body.index("\n}\n")]
    read = set(re.findall(r"\$\{([A-Z_]+):\?", body))
    assert read and read <= set(parse("main.bicep")["outputs"])


def test_azd_passes_the_principal_type_from_the_environment_defaulting_to_user():
    """A service-principal azd run sets AZURE_PRINCIPAL_TYPE=ServicePrincipal; without it
    the deployer's role assignments would fail with UnmatchedPrincipalType."""
    import json

    parameters = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]
    assert parameters["principalType"] == {"value": "${AZURE_PRINCIPAL_TYPE=User}"}
    assert set(parameters) <= set(parse("main.bicep")["parameters"])
