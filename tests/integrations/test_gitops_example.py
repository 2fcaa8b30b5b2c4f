"""The sample Argo CD Application syncs exactly the session manifests of examples/."""

from __future__ import annotations

from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
APPLICATION: dict[str, Any] = yaml.safe_load((ROOT / "examples" / "gitops" / "application.yaml").read_text())


def test_the_application_syncs_with_prune_and_self_heal() -> None:
    assert (APPLICATION["apiVersion"], APPLICATION["kind"]) == ("argoproj.io/v1alpha1", "Application")
    spec = APPLICATION["spec"]
    assert spec["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}
    # The operator writes only status and its finalizer: nothing to ignore.
    assert "ignoreDifferences" not in spec
    assert "resources-finalizer.argocd.argoproj.io" in APPLICATION["metadata"]["finalizers"]


def test_the_application_picks_only_sessions() -> None:
    source = APPLICATION["spec"]["source"]
    directory = source["directory"]
    assert directory["recurse"] is False
    root = ROOT / source["path"]
    picked = sorted(p for p in root.iterdir() if p.is_file() and fnmatch(p.name, directory["include"]))
    assert picked, "the Application would sync nothing"
    names = set()
    for path in picked:
        for document in yaml.safe_load_all(path.read_text()):
            assert (document["apiVersion"], document["kind"]) == (
                "agentcore.dev/v1alpha1",
                "CodeInterpreterSession",
            ), path
            assert (
                document["metadata"].get("namespace", "default")
                == APPLICATION["spec"]["destination"]["namespace"]
            )
            names.add(document["metadata"]["name"])
    assert len(names) == len(picked)


def test_the_application_does_not_create_namespaces() -> None:
    assert "CreateNamespace=false" in APPLICATION["spec"]["syncPolicy"]["syncOptions"]
