"""The files in deploy/, checked as far as this machine allows (no container daemon, no cluster).

Kubernetes manifests against the Kubernetes schemas (kubernetes-validate, offline); the systemd unit with
`systemd-analyze verify` and its offline security score; the HAProxy example with `haproxy -c`; the
Dockerfile and compose file for the properties the README promises.
"""

from __future__ import annotations

import datetime
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from intake.config import load_settings
from tests.conftest import REPO, TEST_SECRET_KEY

DEPLOY = REPO / "deploy"
# The oldest and the newest Kubernetes a line is likely to run on.
KUBERNETES_VERSIONS = ("1.29.0", "1.33.0")
STOP_GRACE_SECONDS = 45  # the README's "give the service a stop grace period of about 45 s"


def tool(name: str) -> str:
    found = shutil.which(name) or next(
        (str(p) for p in (Path("/usr/sbin") / name, Path("/usr/bin") / name) if p.exists()), None
    )
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is missing: .ci/run installs it")
        pytest.skip(f"{name} is not installed")
    return found


def manifests() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        docs += [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]
    return docs


def of_kind(kind: str) -> list[dict[str, Any]]:
    return [doc for doc in manifests() if doc["kind"] == kind]


# ---- Kubernetes ----


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_manifest_validates_against_the_kubernetes_schemas(version: str) -> None:
    docs = manifests()
    assert {doc["kind"] for doc in docs} >= {
        "Namespace", "Secret", "ConfigMap", "Job", "Deployment", "Service", "PodDisruptionBudget",
        "NetworkPolicy", "Ingress",
    }  # fmt: skip
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)


def test_a_manifest_with_a_wrong_field_is_refused() -> None:
    """The validator is not a rubber stamp: a typo'd field and a wrong type both fail."""
    [deployment] = of_kind("Deployment")
    typo = yaml.safe_load(yaml.safe_dump(deployment))
    typo["spec"]["template"]["spec"]["terminationGracePeriod"] = 45
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(typo, KUBERNETES_VERSIONS[-1], strict=True)
    wrong = yaml.safe_load(yaml.safe_dump(deployment))
    wrong["spec"]["replicas"] = "three"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(wrong, KUBERNETES_VERSIONS[-1], strict=True)


def test_the_deployment_runs_several_hardened_copies_with_the_probes_and_grace_the_readme_asks() -> None:
    [deployment] = of_kind("Deployment")
    spec = deployment["spec"]
    pod = spec["template"]["spec"]
    [container] = pod["containers"]
    assert spec["replicas"] >= 2
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert pod["terminationGracePeriodSeconds"] == STOP_GRACE_SECONDS
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    assert {"cpu", "memory"} <= set(container["resources"]["limits"])
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert {ref.get("secretRef", {}).get("name") for ref in container["envFrom"]} >= {"helpline"}
    [secret] = of_kind("Secret")
    assert {"HELPLINE_SECRET_KEY", "HELPLINE_DATABASE_URL"} <= set(secret["stringData"])
    [budget] = of_kind("PodDisruptionBudget")
    assert budget["spec"]["selector"] == spec["selector"]
    assert budget["spec"]["maxUnavailable"] == 1


def test_the_migration_job_migrates_with_the_same_image_and_settings() -> None:
    [job] = of_kind("Job")
    [deployment] = of_kind("Deployment")
    [migrate] = job["spec"]["template"]["spec"]["containers"]
    [serve] = deployment["spec"]["template"]["spec"]["containers"]
    assert migrate["args"] == ["migrate"]
    assert (migrate["image"], migrate["envFrom"]) == (serve["image"], serve["envFrom"])
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"


def test_only_the_ingress_controller_reaches_the_service() -> None:
    [policy] = of_kind("NetworkPolicy")
    assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    [rule] = policy["spec"]["ingress"]
    [source] = rule["from"]
    assert source["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "ingress-nginx"}
    assert rule["ports"] == [{"port": 8080, "protocol": "TCP"}]
    [ingress] = of_kind("Ingress")
    paths = {p["path"] for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]}
    assert not paths & {"/metrics", "/healthz", "/readyz"}
    assert "/" not in {
        p["path"] for r in ingress["spec"]["rules"] for p in r["http"]["paths"] if p["pathType"] == "Prefix"
    }


# ---- Container image and compose ----


def dockerfile_stages() -> list[list[str]]:
    stages: list[list[str]] = []
    for line in (DEPLOY / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(line)
    return stages


def test_the_image_is_multi_stage_slim_non_root_with_compiled_catalogs_and_a_healthcheck() -> None:
    stages = dockerfile_stages()
    assert len(stages) >= 2
    build, final = "\n".join(stages[0]), "\n".join(stages[-1])
    assert "compile-catalogs" in build
    assert re.search(r"^FROM \$\{PYTHON\}$", final, re.M)
    assert "slim" in (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    # Nothing is built or installed in the final stage: it only copies from the first.
    assert not re.search(r"apt-get|apk |pip install|gcc|build-essential|git ", final)
    assert "COPY --from=build" in final
    [user] = re.findall(r"^USER (\S+)$", final, re.M)
    assert user.split(":")[0] not in {"0", "root"}
    [healthcheck] = [line for line in stages[-1] if line.startswith("HEALTHCHECK")]
    assert "/healthz" in healthcheck


def test_compose_migrates_once_before_the_service_and_keeps_secrets_out_of_git() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert services["migrate"]["command"] == ["migrate"]
    assert services["helpline"]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert services["helpline"]["depends_on"]["postgres"] == {"condition": "service_healthy"}
    assert services["helpline"]["env_file"] == [".env"]
    assert services["helpline"]["stop_grace_period"] == f"{STOP_GRACE_SECONDS}s"
    assert "healthcheck" in services["postgres"]
    assert (DEPLOY / ".gitignore").read_text(encoding="utf-8").split() == [".env"]
    example = (DEPLOY / ".env.example").read_text(encoding="utf-8")
    for name in (
        "HELPLINE_SECRET_KEY",
        "HELPLINE_DATABASE_URL",
        "POSTGRES_PASSWORD",
        "HELPLINE_TRUSTED_PROXIES",
    ):
        assert re.search(rf"^{name}=", example, re.M), name


# ---- systemd ----


def test_the_systemd_unit_verifies_and_is_hardened(tmp_path: Path) -> None:
    analyze = tool("systemd-analyze")
    unit = (DEPLOY / "systemd" / "helpline.service").read_text(encoding="utf-8")
    for directive in ("DynamicUser=yes", "ProtectSystem=strict", "NoNewPrivileges=yes", "ProtectHome=yes",
                      "PrivateTmp=yes", "CapabilityBoundingSet=", "TimeoutStopSec=45s"):  # fmt: skip
        assert re.search(rf"^{re.escape(directive)}$", unit, re.M), directive
    # verify checks that the commands exist: point them at this checkout's `helpline`.
    helpline = Path(sys.executable).with_name("helpline")
    assert helpline.exists()
    local = tmp_path / "helpline.service"
    local.write_text(unit.replace("/opt/helpline/bin/helpline", str(helpline)), encoding="utf-8")
    verify = subprocess.run([analyze, "verify", str(local)], capture_output=True, text=True, check=False)  # noqa: S603
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "helpline.service" not in verify.stderr, verify.stderr
    security = subprocess.run(  # noqa: S603
        [analyze, "security", "--offline=yes", str(local)], capture_output=True, text=True, check=False
    )
    found = re.search(r"Overall exposure level for helpline.service: ([0-9.]+)", security.stdout)
    assert found is not None, security.stdout + security.stderr
    assert float(found.group(1)) <= 2.0, security.stdout


# ---- the reverse proxy ----


def self_signed(path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "chat.example.org")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    path.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )


def test_the_haproxy_example_passes_haproxys_own_check(tmp_path: Path) -> None:
    haproxy = tool("haproxy")
    config = (DEPLOY / "haproxy" / "haproxy.cfg").read_text(encoding="utf-8")
    # What the service relies on: TLS, client-sent forwarding headers dropped before ours are set,
    # a body limit, timeouts longer than the long poll (25 s) and the stream's heartbeat (15 s).
    assert re.search(r"^\s*bind :443 ssl crt ", config, re.M)
    assert config.index("del-header X-Forwarded-For") < config.index("option forwardfor")
    assert "deny_status 413" in config
    assert int(re.search(r"timeout server (\d+)s", config).group(1)) > 25  # type: ignore[union-attr]
    self_signed(tmp_path / "helpline.pem")
    local = tmp_path / "haproxy.cfg"
    local.write_text(
        config.replace("/etc/haproxy/certs/helpline.pem", str(tmp_path / "helpline.pem")).replace(
            "log /dev/log local0", "log stderr local0"
        ),
        encoding="utf-8",
    )
    check = subprocess.run([haproxy, "-c", "-f", str(local)], capture_output=True, text=True, check=False)  # noqa: S603
    assert check.returncode == 0, check.stdout + check.stderr
    broken = tmp_path / "broken.cfg"
    broken.write_text(local.read_text(encoding="utf-8").replace("balance roundrobin", "balance sideways"))
    refused = subprocess.run([haproxy, "-c", "-f", str(broken)], capture_output=True, check=False)  # noqa: S603
    assert refused.returncode != 0


def test_the_configmaps_toml_is_a_configuration_the_service_accepts(tmp_path: Path) -> None:
    [config] = of_kind("ConfigMap")
    path = tmp_path / "helpline.toml"
    path.write_text(config["data"]["helpline.toml"], encoding="utf-8")
    settings = load_settings(
        {"HELPLINE_ENV": "production", "HELPLINE_SECRET_KEY": TEST_SECRET_KEY, "HELPLINE_CONFIG": str(path)}
    )
    assert len(settings.languages) == 14
    [deployment] = of_kind("Deployment")
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert config["data"]["HELPLINE_CONFIG"] == mounts["config"] + "/helpline.toml"
