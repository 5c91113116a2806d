"""The networked pipeline's own supply chain: every action pinned by commit SHA, secrets never
spliced into a command, and the job holding the index credentials closed to forks' pull requests."""

from __future__ import annotations

import re

import yaml

from tests.conftest import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def _steps():
    for path in WORKFLOWS:
        for name, job in yaml.safe_load(path.read_text())["jobs"].items():
            for step in job.get("steps", []):
                yield path.name, name, job, step


def test_every_action_is_pinned_by_commit_sha():
    uses = [step["uses"] for *_, step in _steps() if "uses" in step]
    assert uses
    for ref in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", ref), f"not pinned by SHA: {ref}"


def test_no_secret_or_expression_is_spliced_into_a_command():
    for workflow, job, _, step in _steps():
        assert "${{" not in step.get("run", ""), f"{workflow}/{job}: {step.get('name')} splices an expression"


def test_the_job_with_index_credentials_never_runs_for_a_forks_pull_request():
    for path in WORKFLOWS:
        for name, job in yaml.safe_load(path.read_text())["jobs"].items():
            if "secrets." in yaml.safe_dump(job):
                assert "github.event.pull_request.head.repo.full_name == github.repository" in job.get("if", ""), name
