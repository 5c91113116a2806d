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


def _images_job() -> dict:
    return yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())["jobs"]["images"]


def _script(job: dict) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def test_images_are_pushed_by_digest_signed_and_attested():
    job = _images_job()
    script = _script(job)
    assert "--push --metadata-file" in script
    assert "IMAGE=$REPOSITORY@$(jq -r '.\"containerimage.digest\"'" in script  # every later step names the digest
    sign, attest = script.index('cosign sign --yes "$IMAGE"'), script.index("cosign attest --yes --type cyclonedx")
    assert sign < attest < script.index('cosign verify-attestation "$IMAGE"')
    assert job["permissions"]["id-token"] == "write"  # keyless signing
    trivy = [step["with"]["image-ref"] for step in job["steps"] if "trivy" in step.get("uses", "")]
    assert trivy == ["${{ env.IMAGE }}", "${{ env.IMAGE }}"]  # scanned and described by digest


def test_the_base_digest_and_the_wheel_hash_are_verified_before_the_build():
    job = _images_job()
    script = _script(job)
    build = script.index("docker buildx build")
    assert script.index('test "$resolved" = "$pinned"') < build
    assert script.index("docker/wheel_hash.py") < build
    for arg in ("MODEL_WHEEL_SHA256", "MODEL_SIGNING_PUBLIC_KEY"):
        assert f'--build-arg {arg}="${arg}"' in script
