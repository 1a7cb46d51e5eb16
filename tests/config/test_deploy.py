"""The example Kubernetes deployment: well-formed, and wired as the README says."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from config.settings import VARIABLES

MANIFESTS = Path(__file__).resolve().parents[2] / "config" / "deploy" / "kubernetes"


def documents() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for path in sorted(MANIFESTS.glob("*.yaml")):
        found += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return found


def by_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in documents() if doc["kind"] == kind}


@pytest.mark.parametrize("name", ["pixgate-proxy", "pixgate-uploader"])
def test_deployments_probe_and_scale(name: str) -> None:
    deployment = by_kind("Deployment")[name]
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["args"] == ["serve", "--role", name.removeprefix("pixgate-")]
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert pod["securityContext"]["runAsNonRoot"] is True
    hpa = by_kind("HorizontalPodAutoscaler")[name]
    assert hpa["spec"]["scaleTargetRef"]["name"] == name
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"


def test_configmap_sets_only_known_variables() -> None:
    known = {variable.name for variable in VARIABLES}
    assert set(by_kind("ConfigMap")["pixgate"]["data"]) <= known


def test_secrets_stay_in_the_secret() -> None:
    secret_names = {variable.name for variable in VARIABLES if variable.secret}
    assert not secret_names & set(by_kind("ConfigMap")["pixgate"]["data"])
    assert by_kind("Job")["pixgate-migrate"]["spec"]["template"]["spec"]["containers"][0][
        "args"
    ] == ["migrate"]
