"""The six Dockerfiles share their common part: each is what dev/dockerfiles.py writes from one
template, so the build steps, the base, the user and the labels cannot drift apart."""

from __future__ import annotations

import re

import pytest

from dev import dockerfiles
from dev.dockerfiles import IMAGES, ROOT, render


@pytest.mark.parametrize("image", IMAGES, ids=lambda image: image.name)
def test_every_dockerfile_is_the_template_with_its_own_lines(image: dockerfiles.Image) -> None:
    assert image.dockerfile.read_text() == render(image), "run make dockerfiles"


def test_there_is_no_dockerfile_the_template_does_not_write() -> None:
    assert {path.name for path in ROOT.glob("Dockerfile.*")} == {image.dockerfile.name for image in IMAGES}


def test_a_change_to_the_common_part_reaches_every_image() -> None:
    # The non-root user, the read-only-friendly working directory and the install script are
    # written once: every rendered file holds them exactly once.
    for image in IMAGES:
        text = render(image)
        assert text.count("USER 10001:10001") == 1
        assert len(re.findall(r'sh docker/install\.sh "[^"]+"', text)) == 1
        assert f"LOCK={image.lock} " in text
        assert (ROOT / "locks" / f"{image.lock}.txt").is_file()


def test_check_mode_names_a_dockerfile_that_drifted(tmp_path, monkeypatch, capsys) -> None:
    image = IMAGES[0]
    drifted = tmp_path / image.dockerfile.name
    drifted.write_text(render(image).replace("USER 10001:10001", "USER root"))
    monkeypatch.setattr(dockerfiles, "ROOT", tmp_path)
    for other in IMAGES[1:]:
        (tmp_path / other.dockerfile.name).write_text(render(other))
    assert dockerfiles.main(["--check"]) == 1
    assert f"{image.dockerfile.name} differs" in capsys.readouterr().err
