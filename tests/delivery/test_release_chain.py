"""The release chain, read from the pipeline and the rendered manifests.

Retraining proposes, a person releases: the cluster holds no signing key and publishes nothing to
the production index; the release workflow runs in a protected environment, gets the key from the
pipeline's secrets through an environment variable, and publishes only after checking the
candidate. Images: a pull request never pushes one, a push to main tags by commit only, a model
version tag comes only from a release.

No registry, index, KMS or GitHub environment can be reached from here, so all of this is checked
structurally: which events can reach each job and step (their ``if:`` expressions evaluated for
each trigger of the workflow, a fork's pull request apart), and what their commands do. Each check
is a function returning its problems, run on the real files and on a known-bad excerpt (the
``images`` job as it was before the change), so none can pass by finding nothing.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator

import pytest
import yaml

from tests.conftest import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
REPOSITORY = "example/case-classifier"
#: The refs each trigger runs on (workflow_dispatch: whichever branch the person picks).
REFS = {
    "push": ["refs/heads/main"],
    "pull_request": ["refs/pull/1/merge"],
    "release": ["refs/tags/v1.3.0"],
    "workflow_dispatch": ["refs/heads/main", "refs/heads/topic"],
    "schedule": ["refs/heads/main"],
}
FORK_PR = "pull_request from a fork"
#: Commands that write to an image registry (a signature or attestation is written there too).
REGISTRY_WRITES = re.compile(
    r"--push\b|\bdocker\s+push\b|push=true|type=registry|\bcosign\s+(sign|attest)\b|imagetools\s+create|"
    r"\b(crane|oras|skopeo)\s+(push|copy)\b"
)
TAG = re.compile(r"(?:^|\s)(?:-t|--tag)[ =]\"?([^\"\s]+)\"?")
COMMIT_TAG = re.compile(r".*:sha-\$GITHUB_SHA")


def _load(text: str) -> dict:
    workflow = yaml.safe_load(text)
    workflow["on"] = workflow.pop(True, workflow.get("on"))  # YAML 1.1 reads the key `on` as true
    return workflow


def _workflows() -> dict[str, dict]:
    return {path.name: _load(path.read_text()) for path in sorted(WORKFLOWS.glob("*.yml"))}


def _triggers(workflow: dict) -> list[str]:
    on = workflow["on"]
    return [on] if isinstance(on, str) else list(on)


_TOKEN = re.compile(r"\s+|'[^']*'|==|!=|&&|\|\||!|\(|\)|[A-Za-z_][\w.-]*")


def _holds(expression: str | bool | None, context: dict[str, object]) -> bool:
    """An ``if:`` expression for one event: ``github.event_name``, ``github.ref``, the fork guard's
    two sides, string literals, ``== != && || !`` and parentheses; anything else is an error, so an
    expression this evaluator cannot read fails the test instead of passing it."""
    if expression is None or expression is True:
        return True
    text = str(expression).strip()
    text = text.removeprefix("${{").removesuffix("}}").strip()
    python, position = [], 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match:
            raise ValueError(f"cannot read {text!r} at {position}")
        token, position = match.group(), match.end()
        if token.isspace():
            continue
        if token.startswith("'"):
            python.append(repr(token[1:-1]))
        elif token in ("==", "!=", "(", ")"):
            python.append(token)
        elif token in ("&&", "||", "!"):
            python.append({"&&": " and ", "||": " or ", "!": " not "}[token])
        elif token in ("true", "false"):
            python.append(str(token == "true"))
        elif token in context:
            python.append(repr(context[token]))
        else:
            raise ValueError(f"{text!r}: {token} is not understood by this check")
    return bool(eval("".join(python), {"__builtins__": {}}, {}))


def _contexts(workflow: dict) -> Iterator[tuple[str, dict[str, object]]]:
    """(label, context) per way the workflow can start; a fork's pull request is its own label."""
    for event in _triggers(workflow):
        for ref in REFS.get(event, ["refs/heads/main"]):
            heads = [REPOSITORY, "someone/fork"] if event == "pull_request" else [None]
            for head in heads:
                label = FORK_PR if head == "someone/fork" else event
                yield (
                    label,
                    {
                        "github.event_name": event,
                        "github.ref": ref,
                        "github.repository": REPOSITORY,
                        "github.event.pull_request.head.repo.full_name": head,
                    },
                )


def reachable(workflow: dict, job: dict, step: dict | None = None) -> set[str]:
    """The events (FORK_PR for a fork's pull request) under which a job, or one of its steps, runs."""
    return {
        label
        for label, context in _contexts(workflow)
        if _holds(job.get("if"), context) and (step is None or _holds(step.get("if"), context))
    }


def _steps(workflows: dict[str, dict]) -> Iterator[tuple[str, dict, str, dict, dict]]:
    for name, workflow in workflows.items():
        for job_name, job in workflow["jobs"].items():
            for step in job.get("steps", []):
                yield name, workflow, job_name, job, step


def _writes_registry(step: dict) -> bool:
    with_ = step.get("with", {}) or {}
    pushes_by_action = "build-push-action" in step.get("uses", "") and str(with_.get("push")).lower() == "true"
    return bool(REGISTRY_WRITES.search(step.get("run", ""))) or pushes_by_action


def pull_request_pushes(workflows: dict[str, dict]) -> list[str]:
    """Steps that write to a registry and can run for a pull request (from this repository or a fork)."""
    return [
        f"{name}/{job_name}: {step.get('name', step.get('uses'))}"
        for name, workflow, job_name, job, step in _steps(workflows)
        if _writes_registry(step) and reachable(workflow, job, step) & {"pull_request", FORK_PR}
    ]


def tag_problems(workflows: dict[str, dict]) -> list[str]:
    """A push to main tags by commit at most; any other tag only where nothing but a release runs."""
    problems = []
    for name, workflow, job_name, job, step in _steps(workflows):
        events = reachable(workflow, job, step)
        for tag in TAG.findall(step.get("run", "")):
            where = f"{name}/{job_name}: {step.get('name')}: {tag}"
            if COMMIT_TAG.fullmatch(tag):
                continue
            if _writes_registry(step) and events - {"release"}:
                problems.append(f"{where} is not a commit tag, and runs on {sorted(events - {'release'})}")
    return problems


def _ci() -> dict:
    return _workflows()["ci.yml"]


#: The images job as it was (main, b5549f6): every check below must find its fault in it.
BEFORE = """
on:
  push:
    branches: [main]
  pull_request:
jobs:
  images:
    if: github.event_name != 'pull_request' || github.event.pull_request.head.repo.full_name == github.repository
    steps:
      - name: Build and push by digest
        run: |
          docker buildx build -f "Dockerfile.$COMPONENT" --push --metadata-file "$RUNNER_TEMP/meta.json" \\
            -t "$REPOSITORY:$MODEL_VERSION" .
      - name: Sign
        run: cosign sign --yes "$IMAGE"
"""


def test_the_checks_find_the_faults_of_the_images_job_as_it_was():
    before = {"ci.yml": _load(BEFORE)}
    assert len(pull_request_pushes(before)) == 2  # the build's --push and cosign's signature
    assert len(tag_problems(before)) == 1  # the model-version tag, on every push to main


def test_the_if_reader_refuses_what_it_cannot_read():
    context = next(c for _, c in _contexts(_load(BEFORE)))
    with pytest.raises(ValueError, match="not understood"):
        _holds("github.event.action == 'published'", context)
    assert _holds("${{ github.event_name == 'push' && !(github.ref != 'refs/heads/main') }}", context)


def test_no_job_that_runs_for_a_pull_request_pushes_an_image():
    workflows = _workflows()
    assert pull_request_pushes(workflows) == []
    # The pull request's images are still built, checked and scanned: loaded into the runner only.
    ci = workflows["ci.yml"]
    checked = [job for job in ci["jobs"].values() if reachable(ci, job) == {"pull_request"}]
    script = "\n".join(step.get("run", "") for job in checked for step in job["steps"])
    assert "docker buildx build" in script
    assert "--load" in script
    assert any("trivy" in step.get("uses", "") for job in checked for step in job["steps"])
    assert not any("login-action" in step.get("uses", "") for job in checked for step in job["steps"])
    for job in checked:
        assert "id-token" not in job.get("permissions", {})
        assert "packages" not in job.get("permissions", {})


def test_pushes_to_main_tag_by_commit_only_and_version_tags_come_from_a_release():
    workflows = _workflows()
    assert tag_problems(workflows) == []
    ci = workflows["ci.yml"]
    assert "release" in _triggers(ci)
    by_event: dict[str, set[str]] = {}
    for step in ci["jobs"]["images"]["steps"]:
        for event in reachable(ci, ci["jobs"]["images"], step):
            by_event.setdefault(event, set()).update(TAG.findall(step.get("run", "")))
    assert by_event["push"] == {"$REPOSITORY:sha-$GITHUB_SHA"}
    assert by_event["release"] == {"$REPOSITORY:$MODEL_VERSION"}
    assert {"pull_request", FORK_PR}.isdisjoint(reachable(ci, ci["jobs"]["images"]))
    # A release never moves a version tag the registry already holds: checked before its build.
    steps = ci["jobs"]["images"]["steps"]
    release = [s.get("run", "") for s in steps if reachable(ci, ci["jobs"]["images"], s) == {"release"}]
    guard = next(i for i, run in enumerate(release) if 'imagetools inspect "$REPOSITORY:$MODEL_VERSION"' in run)
    build = next(i for i, run in enumerate(release) if "--push" in run)
    assert guard < build


def _release_workflow() -> tuple[str, dict]:
    """The workflow that holds the release key: exactly one."""
    holders = [(n, w) for n, w in _workflows().items() if "secrets.MODEL_SIGNING_KEY" in yaml.safe_dump(w)]
    assert len(holders) == 1, [n for n, _ in holders]
    return holders[0]


def _secret_references(value) -> Iterator[str]:
    text = yaml.safe_dump(value)
    yield from re.findall(r"secrets\.(\w+)", text)


def test_the_release_is_dispatched_by_a_person_and_waits_for_the_environments_reviewer():
    name, workflow = _release_workflow()
    assert _triggers(workflow) == ["workflow_dispatch"]
    assert {"version", "sha256"} <= set(workflow["on"]["workflow_dispatch"]["inputs"])
    jobs = workflow["jobs"]
    keyed = [j for j, job in jobs.items() if "MODEL_SIGNING_KEY" in set(_secret_references(job))]
    assert keyed == ["release"]
    job = jobs["release"]
    assert job["environment"] == "model-release"
    assert reachable(workflow, job) == {"workflow_dispatch"}
    # The reviewer is configured in GitHub's settings, not in YAML: the workflow says who and where.
    text = (WORKFLOWS / name).read_text()
    for words in ("Required reviewers", "model-release-approvers", "Prevent self-review", "main only"):
        assert words in text, words
    # Every job with a secret other than the store's read access is behind the environment.
    for job_name, other in jobs.items():
        if set(_secret_references(other)) - {"MODEL_CANDIDATES_USER", "MODEL_CANDIDATES_PASSWORD"}:
            assert other.get("environment") == "model-release", job_name


def test_the_release_key_reaches_only_the_signing_step_and_only_through_its_environment():
    name, workflow = _release_workflow()
    job = workflow["jobs"]["release"]
    assert "secrets." not in yaml.safe_dump(job.get("env", {}))  # not for every step of the job
    holders = [s for s in job["steps"] if "MODEL_SIGNING_KEY" in set(_secret_references(s))]
    (step,) = holders
    (variable,) = [k for k, v in step["env"].items() if v == "${{ secrets.MODEL_SIGNING_KEY }}"]
    assert "secrets." not in step["run"]
    assert "${{" not in step["run"]
    assert f'"${variable}"' in step["run"]  # used, quoted, from the environment
    assert "umask 077" in step["run"]
    assert "trap 'rm -f" in step["run"]
    # No other workflow names the key, and no other step gets it.
    for other_name, other in _workflows().items():
        if other_name != name:
            assert "MODEL_SIGNING_KEY" not in set(_secret_references(other)), other_name


def test_the_release_publishes_only_after_checking_signing_and_verifying_the_candidate():
    _, workflow = _release_workflow()
    for job_name in ("check", "release"):
        runs = [s.get("run", "") for s in workflow["jobs"][job_name]["steps"]]

        def first(pattern: str, runs=runs) -> int:
            return next(i for i, run in enumerate(runs) if re.search(pattern, run))

        approved = first(r'echo "\$WHEEL_SHA256  case_model-\$VERSION-py3-none-any\.whl" \| sha256sum --check')
        recorded = first(r"sha256sum --check --strict --ignore-missing SHA256SUMS")
        verdict = first(r"jq -e .*\.passed == true and \.refusals == \[\] and \.challenger\.version == \$v")
        if job_name == "check":
            assert workflow["jobs"]["release"]["needs"] == "check"
            assert not any("twine" in run or "sign-candidate" in run for run in runs)
            continue
        sign = first(r"sign-candidate")
        verify = first(r"case_signing verify-wheel")
        publish = first(r"twine upload")
        assert max(approved, recorded, verdict) < sign < verify < publish
        assert first(r"docker/wheel_hash\.py") > publish  # and the index serves what was signed
        step = workflow["jobs"]["release"]["steps"][publish]
        assert {"TWINE_USERNAME", "TWINE_PASSWORD"} <= set(step["env"])
        assert "secrets." not in step["run"]


def _render(overlay: str) -> list[dict]:
    from tests.manifests.test_manifests import render, render_batch

    if shutil.which("kubectl") is None:
        pytest.skip("kubectl (Debian kubernetes-client) missing: cannot render the manifests")
    return render(overlay) + render_batch()


def _pods(objects: list[dict]) -> Iterator[tuple[str, dict]]:
    from tests.manifests.test_manifests import _pod_specs

    yield from _pod_specs(objects)


def signing_key_problems(objects: list[dict]) -> list[str]:
    """Anything in a pod that is, or points at, a private signing key."""
    problems = []
    for where, pod in _pods(objects):
        for volume in pod.get("volumes", []):
            sources = [volume.get("secret", {}).get("secretName", "")]
            sources += [s.get("secret", {}).get("name", "") for s in volume.get("projected", {}).get("sources", [])]
            problems += [f"{where}: volume from Secret {s}" for s in sources if "sign" in s or "key" in s]
        for container in [*pod.get("initContainers", []), *pod["containers"]]:
            words = [*container.get("command", []), *container.get("args", [])]
            problems += [f"{where}/{container['name']}: {w}" for w in words if "signing-key" in w or w.endswith(".key")]
            for env in container.get("env", []):
                if env["name"] in ("MODEL_SIGNING_KEY", "SIGNING_KEY") or "secretKeyRef" in env.get("valueFrom", {}):
                    problems.append(f"{where}/{container['name']}: env {env['name']}")
            for source in container.get("envFrom", []):
                if "secretRef" in source:
                    problems.append(f"{where}/{container['name']}: envFrom {source['secretRef']}")
    return problems


def production_index_problems(objects: list[dict]) -> list[str]:
    """The retraining CronJob able to publish to the production index: twine, an upload, the
    signing key or any index credential but the read-only one it reads the versions with."""
    problems = []
    for obj in objects:
        if obj["kind"] == "CronJob":
            text = yaml.safe_dump(obj["spec"]).replace("model-index-read", "")
            words = ("twine", "pypirc", "model-index", "model-signing", "upload --")
            problems += [f"CronJob {obj['metadata']['name']}: {w}" for w in words if w in text]
        if (
            obj["kind"] == "NetworkPolicy"
            and "case-retrain" in yaml.safe_dump(obj["spec"]["podSelector"])
            and "case-classifier.io/model-index" in yaml.safe_dump(obj["spec"].get("egress", []))
        ):
            # Reading the versions: HTTPS only, nothing else of the index.
            for rule in obj["spec"]["egress"]:
                if "case-classifier.io/model-index" in yaml.safe_dump(rule.get("to", [])):
                    ports = [(p["port"], p.get("protocol", "TCP")) for p in rule.get("ports", [])]
                    if ports != [(443, "TCP")]:
                        problems.append(
                            f"NetworkPolicy {obj['metadata']['name']}: retrain reaches the index on {ports}"
                        )
    return problems


def _before_retrain() -> dict:
    """The CronJob's pod as it was: signed with the release key, uploaded with twine."""
    container = {"name": "train", "args": ["train", "--signing-key=/run/secrets/model-signing/model-signing.key"]}
    publish = {"name": "publish", "command": ["python", "-m", "twine"], "args": ["upload", "--config-file=/x/pypirc"]}
    pod = {
        "initContainers": [container],
        "containers": [publish],
        "volumes": [{"name": "signing-key", "secret": {"secretName": "model-signing-key"}}],
    }
    spec = {"jobTemplate": {"spec": {"template": {"spec": pod}}}}
    return {"kind": "CronJob", "metadata": {"name": "case-retrain"}, "spec": spec}


def test_the_manifest_checks_find_the_retraining_job_as_it_was():
    before = [_before_retrain()]
    assert len(signing_key_problems(before)) == 2  # the Secret volume and the flag
    assert len(production_index_problems(before)) == 3  # twine, its pypirc, the signing key


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_no_manifest_mounts_or_names_the_signing_private_key(overlay):
    assert signing_key_problems(_render(overlay)) == []
    text = "\n".join(p.read_text() for p in (ROOT / "manifests").rglob("*.yaml"))
    assert "model-signing-key" not in text
    assert "--signing-key" not in text


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_the_retraining_job_stages_a_candidate_and_publishes_nothing_to_the_production_index(overlay):
    objects = _render(overlay)
    assert production_index_problems(objects) == []
    (cronjob,) = [o for o in objects if o["kind"] == "CronJob"]
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (train,), (stage,) = pod["initContainers"], pod["containers"]
    assert "--candidate" in train["args"]
    assert stage["args"][0] == "stage-candidate"
    assert any(a.startswith("--store-url-file=/run/secrets/model-candidates/") for a in stage["args"])


def test_the_cli_accepts_what_the_cronjob_and_the_release_workflow_run():
    from case_model.training.cli import build_parser

    parser = build_parser()
    retrain = yaml.safe_load((ROOT / "manifests" / "base" / "retrain.yaml").read_text())
    pod = retrain["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    parser.parse_args(pod["initContainers"][0]["args"])
    parser.parse_args(pod["containers"][0]["args"])
    parser.parse_args(["sign-candidate", "c.whl", "--signing-key", "k.pem", "--out", "release"])


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_every_deployed_image_is_named_by_digest(overlay):
    """What runs is exactly what was scanned and signed: a release file naming a tag is refused."""
    images = [
        container["image"]
        for _, pod in _pods(_render(overlay))
        for container in [*pod.get("initContainers", []), *pod["containers"]]
    ]
    assert images
    tagged = [image for image in images if not re.search(r"@sha256:[0-9a-f]{64}$", image)]
    assert tagged == []
