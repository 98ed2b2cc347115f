"""deploy/jupyterhub/values.yaml is YAML the Zero to JupyterHub chart accepts, as far as this machine
can tell without a cluster: every key it sets is one the chart's values.schema.yaml documents, and
every kubespawner_override key is a KubeSpawner (or JupyterHub Spawner) setting.

The documented keys below were read from the chart's jupyterhub/values.schema.yaml (chart 4.x,
github.com/jupyterhub/zero-to-jupyterhub-k8s) and from kubespawner/spawner.py. With the chart at
the chart's schema and defaults (a copy in tests/data/z2jh, or Z2JH_CHART=<checkout>/jupyterhub for another
release), a test validates the values, merged over the chart's defaults as helm merges them, against the
schema itself, and shows that a misspelt key fails.
"""
import os
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
VALUES = ROOT / "deploy" / "jupyterhub" / "values.yaml"
# The chart's documented keys this file may set (values.schema.yaml; under hub.config and the
# Kubernetes objects below, the schema allows any key: they are JupyterHub's and Kubernetes' own).
CHART_KEYS = {
    "hub": {"config": None},
    "singleuser": {"image": {"name", "tag", "pullPolicy"}, "uid": None, "fsGid": None, "defaultUrl": None,
                   "memory": {"guarantee", "limit"}, "cpu": {"guarantee", "limit"}, "extraEnv": None,
                   "storage": {"extraVolumes", "extraVolumeMounts", "capacity", "type"},
                   "extraFiles": None, "profileList": None, "extraPodConfig": None},
    "cull": {"enabled": None, "timeout": None, "every": None},
}
# KubeSpawner traits (kubespawner/spawner.py) and JupyterHub Spawner traits (environment, mem_limit ...).
SPAWNER_TRAITS = {"environment", "extra_pod_config", "pod_security_context", "container_security_context",
                  "mem_limit", "mem_guarantee", "cpu_limit", "cpu_guarantee", "image", "volumes", "volume_mounts"}


def values() -> dict:
    return yaml.safe_load(VALUES.read_text())


def test_values_use_only_documented_keys():
    for top, inner in values().items():
        assert top in CHART_KEYS, f"{top} is not a key this guide checked against the chart's schema"
        for key, sub in inner.items():
            assert key in CHART_KEYS[top], f"{top}.{key} is not in the chart's schema"
            if isinstance(CHART_KEYS[top][key], set) and isinstance(sub, dict):
                assert set(sub) <= CHART_KEYS[top][key], f"{top}.{key}: {set(sub) - CHART_KEYS[top][key]}"
    for profile in values()["singleuser"]["profileList"]:
        assert set(profile) <= {"display_name", "description", "default", "kubespawner_override"}
        assert set(profile.get("kubespawner_override", {})) <= SPAWNER_TRAITS


def test_the_unprivileged_worlds_are_configured():
    single = values()["singleuser"]
    uml, userns = single["profileList"]
    assert uml["default"] and uml["kubespawner_override"]["environment"]["NETLAB_MODE"] == "uml"
    assert single["extraEnv"]["NETLAB_UML_TMPDIR"] in [m["mountPath"] for m in single["storage"]["extraVolumeMounts"]]
    assert userns["kubespawner_override"]["extra_pod_config"]["hostUsers"] is False
    assert "privileged" not in str(values()), "no lab needs a privileged pod"


CHART = Path(os.environ.get("Z2JH_CHART") or ROOT / "tests" / "data" / "z2jh")


def merge(base, over):  # helm: maps merge, everything else is replaced
    if isinstance(base, dict) and isinstance(over, dict):
        return {k: merge(base.get(k), over[k]) if k in over else base[k] for k in {**base, **over}}
    return over


def test_values_validate_against_the_charts_schema():
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    schema = yaml.safe_load((CHART / "values.schema.yaml").read_text())
    jsonschema.validate(merge(defaults, values()), schema)
    misspelt = values()
    misspelt["singleuser"]["memroy"] = misspelt["singleuser"].pop("memory")
    with pytest.raises(jsonschema.ValidationError, match="memroy"):
        jsonschema.validate(merge(defaults, misspelt), schema)
