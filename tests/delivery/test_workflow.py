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
    """Every job holding a secret: a fork's pull request cannot reach it (its triggers and ``if:``
    read for each event, tests/delivery/test_release_chain.py); one that runs for pull requests at
    all does so behind the fork guard."""
    from tests.delivery.test_release_chain import FORK_PR, _load, reachable

    guard = "github.event.pull_request.head.repo.full_name == github.repository"
    checked = 0
    for path in WORKFLOWS:
        workflow = _load(path.read_text())
        for name, job in workflow["jobs"].items():
            if "secrets." in yaml.safe_dump(job):
                events = reachable(workflow, job)
                assert FORK_PR not in events, f"{path.name}/{name}"
                if "pull_request" in events:
                    assert guard in job.get("if", ""), f"{path.name}/{name}"
                    unguarded = {**job, "if": job["if"].replace(guard, "true")}
                    assert FORK_PR in reachable(workflow, unguarded)  # the guard is what keeps forks out
                checked += 1
    assert checked  # a check that finds no job with a secret checks nothing


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


def test_the_retraining_image_is_built_with_the_anchor_of_its_line():
    """The anchor's version comes from configuration, its hash from the index before the build,
    and both reach the build as arguments (Dockerfile.retrain pins and verifies it)."""
    job = _images_job()
    script = _script(job)
    assert job["env"]["ANCHOR_VERSION"] == "${{ vars.ANCHOR_VERSION }}"
    (anchor,) = [step for step in job["steps"] if "ANCHOR_WHEEL_SHA256=$(" in step.get("run", "")]
    assert "docker/wheel_hash.py" in anchor["run"]
    assert '[ "$COMPONENT" = retrain ] && [ -n "$ANCHOR_VERSION" ]' in anchor["run"]
    assert script.index(anchor["run"]) < script.index("docker buildx build")
    builds = script.count("docker buildx build")
    assert script.count('--build-arg ANCHOR_VERSION="$ANCHOR_VERSION"') == builds
    assert script.count('--build-arg ANCHOR_WHEEL_SHA256="${ANCHOR_WHEEL_SHA256:-}"') == builds


def test_a_weekly_job_installs_every_lock_from_scratch():
    """A broken upstream release shows within a week: every lock, installed as make venv and the
    image builds install it (docker/venv.sh, the pinned installer, no cache), on a schedule."""
    from dev.lock import IMAGES, TOOLS

    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "fresh-install.yml").read_text())
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    (schedule,) = triggers["schedule"]
    _minute, _hour, day, month, weekday = schedule["cron"].split()
    assert (day, month) == ("*", "*"), "not weekly"
    assert weekday.isdigit(), "not weekly"
    locks_installed: set[str] = set()
    for job in workflow["jobs"].values():
        assert job["env"]["PIP_NO_CACHE_DIR"] == "1"
        assert "docker/venv.sh" in _script(job)
        assert '"locks/$LOCK.txt"' in _script(job)
        locks_installed.update(job["strategy"]["matrix"]["lock"])
    assert locks_installed == {*IMAGES, "dev", *(tool for tool in TOOLS if tool != "installer")}
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", (ROOT / "Dockerfile.predictor").read_text(), re.M)
    assert base
    assert workflow["jobs"]["image-base"]["container"] == base.group(1)
    assert set(workflow["jobs"]["image-base"]["strategy"]["matrix"]["lock"]) == set(IMAGES)
