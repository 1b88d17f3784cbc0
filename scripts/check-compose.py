"""Checks docker-compose.yml without a Docker engine: it parses, and the service has
what the README promises (ports 443/80, restart policy, healthcheck, secrets, the
named data volume). Run by .ci/run with the schemathesis venv's Python (PyYAML)."""
import sys

import yaml

with open(sys.argv[1] if len(sys.argv) > 1 else "docker-compose.yml") as f:
    doc = yaml.safe_load(f)

service = doc["services"]["tradehook"]
assert set(service["ports"]) == {"443:443", "80:80"}, service["ports"]
assert service["restart"] == "unless-stopped"
assert service["healthcheck"]["test"] == ["CMD", "tradehook", "healthcheck"]
assert "tradehook-data:/data" in service["volumes"]
assert "tradehook-data" in doc["volumes"]
for name in service["secrets"]:
    assert name in doc["secrets"], f"secret {name} not declared"
env = service["environment"]
for var in ("KRAKEN_API_KEY_FILE", "KRAKEN_API_SECRET_FILE"):
    assert env[var].startswith("/run/secrets/"), var
print("docker-compose.yml: ok")
