"""The README stays true: its quick start runs as written, and every number it quotes from the
settings, the limits and the manifests is the number there."""

from __future__ import annotations

import contextlib
import io
import json
import re
import shlex

import httpx
import pytest
import yaml

from case_feedback.service.settings import FeedbackSettings
from case_model.text import DEFAULT_MAX_CHARS, RAW_CHARS_PER_CAP
from case_serving.identifiers import MAX_CASE_ID_CHARS, MAX_REQUEST_ID_CHARS
from case_serving.settings import DEFAULT_MAX_BODY_BYTES
from dev import config_table
from dev.adversarial import FAMILIES
from dev.stack import Ports
from predictor.settings import PredictorSettings
from tests.conftest import ROOT
from tests.support.auth import bearer
from transformer.settings import TransformerSettings

README = (ROOT / "README.md").read_text()
#: The README's prose with its line breaks folded, for the sentences that quote numbers.
FLAT = " ".join(README.split())


def _section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end > 0 else len(README)]


def _code_blocks(text: str) -> list[str]:
    return [block.strip() for block in re.findall(r"```[a-z]*\n(.*?)```", text, re.S)]


def _number(text: str) -> int:
    return int(text.replace(",", ""))


def test_configuration_table_matches_the_settings_classes():
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        config_table.main()
    block = re.search(r"<!-- configuration-table -->\n(.*)<!-- /configuration-table -->", README, re.S)
    assert block, "README lost its configuration-table markers"
    assert block.group(1) == buffer.getvalue(), "regenerate with: python -m dev.config_table"


def test_the_quick_start_comes_first_and_gives_the_front_door_commands():
    sections = re.findall(r"^## (.+)$", README, re.M)
    assert sections[0] == "Quick start"
    blocks = _code_blocks(_section("Quick start"))
    assert blocks[0] == "make run"
    assert blocks[1].startswith("curl ")  # classify
    assert blocks[2].startswith("curl ")  # correct, and see the quality figures
    assert blocks[3] == "make check"  # the loop of about a minute
    assert blocks[4] == "make test"
    quick_start = _section("Quick start")
    assert "`make model`" in quick_start
    assert "`make bench`" in quick_start
    assert re.search(r"^\s*make test\s*$", (ROOT / ".ci" / "run").read_text(), re.M)


def test_numbers_quoted_from_the_settings_and_limits():
    transformer, predictor = TransformerSettings(), PredictorSettings()
    found = re.search(r"transformer: ([\d,]+) cases per request; predictor: ([\d,]+)\)", FLAT)
    assert found
    assert (_number(found.group(1)), _number(found.group(2))) == (
        transformer.max_batch_cases,
        predictor.max_batch_cases,
    )
    found = re.search(r"request id over (\d+) characters or a `case_id` over (\d+)", FLAT)
    assert found
    assert (int(found.group(1)), int(found.group(2))) == (MAX_REQUEST_ID_CHARS, MAX_CASE_ID_CHARS)
    assert f"({DEFAULT_MAX_BODY_BYTES // 2**20} MiB;" in FLAT
    found = re.search(r"the first ([\d,]+) characters are read \((\w+) times the length cap\)", FLAT)
    assert found
    assert _number(found.group(1)) == RAW_CHARS_PER_CAP * DEFAULT_MAX_CHARS
    assert f"cut to {DEFAULT_MAX_CHARS:,} characters" in FLAT
    assert f"over {len(FAMILIES)} families of hostile texts" in FLAT
    ports = Ports()
    for name, port in (
        ("HTTP_PORT", ports.http),
        ("GRPC_PORT", ports.grpc),
        ("LANGUAGE_PORT", ports.language),
        ("FEEDBACK_PORT", ports.feedback),
        ("PREDICTOR_HTTP_PORT", ports.predictor_http),
        ("PREDICTOR_GRPC_PORT", ports.predictor_grpc),
    ):
        assert f"`{name}` ({port})" in FLAT


def test_numbers_quoted_about_the_feedback_loop():
    feedback, transformer = FeedbackSettings(), TransformerSettings()
    assert f"(`--feedback-buffer-events`, {transformer.feedback_buffer_events:,})" in FLAT
    assert f"more than {feedback.max_items:,} items (counted before any is validated)" in FLAT
    corrections_mib, body_mib = feedback.max_corrections_body_bytes // 2**20, feedback.max_body_bytes // 2**20
    assert f"a corrections body over {corrections_mib} MiB or any other body over {body_mib} MiB" in FLAT
    assert f"A SIGKILL (or an OOM kill) loses at most the buffer: {transformer.feedback_buffer_events:,}" in FLAT
    assert f"`--corrections-per-agent-per-day` ({feedback.corrections_per_agent_per_day:,})" in FLAT
    assert f"`--quality-cache-seconds` ({feedback.quality_cache_seconds:g})" in FLAT
    assert f"after `--text-retention-days` ({feedback.text_retention_days:g})" in FLAT
    assert f"port {Ports().feedback};" in FLAT


def test_numbers_quoted_from_the_manifests():
    isvc = yaml.safe_load((ROOT / "manifests" / "base" / "model" / "inferenceservice.yaml").read_text())
    found = re.search(r"a target of (\d+) requests in flight per pod \(a hard limit of (\d+)\)", FLAT)
    assert found
    for component in ("predictor", "transformer"):
        spec = isvc["spec"][component]
        assert (int(found.group(1)), int(found.group(2))) == (spec["scaleTarget"], spec["containerConcurrency"])
    prod = (ROOT / "manifests" / "overlays" / "prod" / "kustomization.yaml").read_text()
    assert "two warm pods minimum, ten at most" in FLAT
    assert "minReplicas, value: 2}" in prod
    assert "maxReplicas, value: 10}" in prod


@pytest.mark.slow
@pytest.mark.xdist_group("stack")
def _authorization(argv: list[str]) -> dict[str, str]:
    """The README's ``-H "Authorization: Bearer $(make -s token ROLE=.. SUBJECT=..)"``, with the
    token ``make token`` would print (the same issuer, role and subject)."""
    (header,) = [arg for arg in argv if arg.startswith("Authorization:")]
    found = re.fullmatch(r"Authorization: Bearer \$\(make -s token ROLE=(\w+) SUBJECT=([\w-]+)\)", header)
    assert found, header
    return bearer(found.group(1), found.group(2))


def test_the_quick_start_curl_answers_as_the_readme_says(stack):
    curl = _code_blocks(_section("Quick start"))[1]
    argv = shlex.split(curl)
    url = next(arg for arg in argv if arg.startswith("http://"))
    body = json.loads(argv[argv.index("-d") + 1])
    assert url == "http://127.0.0.1:8080/v2/models/case-classifier/infer"  # the default port of make run
    local = url.replace("http://127.0.0.1:8080", stack.transformer_url)
    assert httpx.post(local, json=body, timeout=10).status_code == 401, "no token, no answer"
    response = httpx.post(local, json=body, timeout=10, headers=_authorization(argv))
    outputs = {output["name"]: output["data"] for output in response.json()["outputs"]}
    assert outputs["label"][0] == "battery_power"
    assert outputs["status"] == ["ok", "auto_reply"]


@pytest.mark.slow
@pytest.mark.xdist_group("stack")
def test_the_quick_start_correction_is_accepted_as_the_readme_says(stack):
    from tests.support.feedback import eventually

    classify, correct = _code_blocks(_section("Quick start"))[1:3]
    argv = shlex.split(classify)
    body = json.loads(argv[argv.index("-d") + 1])

    first, second = (shlex.split(command) for command in re.split(r"\n(?=curl )", correct))

    def predictions() -> int:
        answer = httpx.get(f"{stack.feedback_url}/v1/quality", timeout=30, headers=_authorization(second))
        return sum(version["predictions"] for version in answer.json()["model_versions"])

    before = predictions()
    httpx.post(
        f"{stack.transformer_url}/v2/models/case-classifier/infer",
        json=body,
        timeout=30,
        headers=_authorization(shlex.split(classify)),
    )
    url = next(arg for arg in first if arg.startswith("http://"))
    assert url == "http://127.0.0.1:8083/v1/corrections"  # the default port of make run
    correction = json.loads(first[first.index("-d") + 1])
    base = url.replace("http://127.0.0.1:8083", stack.feedback_url)
    quality_url = next(arg for arg in second if arg.startswith("http"))
    assert quality_url == "http://127.0.0.1:8083/v1/quality"

    eventually(lambda: predictions() > before)  # logged off the request path, a moment later
    answer = httpx.post(base, json=correction, timeout=30, headers=_authorization(first))
    assert answer.json() == {"accepted": 1, "unknown_case_ids": []}
    assert '`{"accepted": 1, "unknown_case_ids": []}`' in FLAT
