"""The release: which model version the InferenceService serves, and the canary in flight.

Who owns the image tag decides whether ``kubectl apply -k`` and the rollout command fight. Here the
manifests own it: each overlay holds ``release.yaml``, a JSON patch of the InferenceService that
sets both components' images and the canary share, and the rollout command's only way to change a
release is to rewrite that file and apply the overlay. A later ``kubectl apply -k`` therefore
applies the release the rollout command made, never the base's tags, and the file under version
control is the record of what runs.

The state the patch encodes (annotations on the InferenceService) is what makes the steps safe:

- ``deploy --canary N`` while a canary is in flight is refused (promote or roll back first);
  ``--canary 100`` is a full rollout and leaves no ``canaryTrafficPercent`` behind (an earlier
  share would otherwise stay in force).
- ``rollback`` sets ``canaryTrafficPercent: 0``: KServe sends all traffic back to the last
  rolled-out revision at once, and the rolled-back version is remembered.
- ``promote`` promotes only a canary in flight: after a rollback there is none, so the version that
  was rolled back cannot be promoted by mistake (KServe alone would: removing the field sends 100%
  to the latest revision, the rolled-back one).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

COMPONENTS = ("predictor", "transformer")
ANNOTATION = "case-classifier.io"
STABLE, CANARY, ROLLED_BACK, REGISTRY = "stable-version", "canary-version", "rolled-back-version", "registry"
FILE = "release.yaml"
HEADER = (
    "# Written by `case-classifier rollout`, the owner of the model version and the canary share of\n"
    "# the InferenceService; `kubectl apply -k` deploys what it says. Change it with the rollout\n"
    "# command (deploy, promote, rollback), and commit it: it is the record of what runs.\n"
)
Patch = list[dict[str, Any]]


class ReleaseError(ValueError):
    """A rollout step that would leave the service in a state nobody asked for."""


def image(registry: str, component: str, version: str) -> str:
    """The image of ``component`` for a model version (image tags are model versions)."""
    return f"{registry.rstrip('/')}/case-classifier-{component}:{version}"


def _pointer(key: str) -> str:
    return f"/metadata/annotations/{ANNOTATION}~1{key}"


@dataclass(frozen=True)
class Release:
    """What is served: the stable version, and at most one canary (or one just rolled back)."""

    stable: str
    registry: str
    canary: str | None = None
    percent: int | None = None
    rolled_back: str | None = None

    def deploy(self, version: str, percent: int, registry: str | None = None) -> Release:
        """A new version to ``percent`` of the traffic (100: all of it, at once)."""
        if not 0 < percent <= 100:
            raise ReleaseError(f"--canary must be within 1..100, got {percent}")
        if self.canary:
            raise ReleaseError(
                f"a canary of {self.canary} is in flight ({self.percent}%): promote or roll it back first"
            )
        registry = registry or self.registry
        if percent == 100:
            return Release(stable=version, registry=registry)
        return Release(stable=self.stable, registry=registry, canary=version, percent=percent)

    def promote(self) -> Release:
        """The canary becomes the stable version with all the traffic."""
        if not self.canary:
            after = f" ({self.rolled_back} was rolled back)" if self.rolled_back else ""
            raise ReleaseError(f"no canary to promote{after}; {self.stable} serves all traffic")
        return Release(stable=self.canary, registry=self.registry)

    def rollback(self) -> Release:
        """All traffic back to the stable version at once; the canary is remembered as rolled back."""
        if not self.canary:
            raise ReleaseError(f"no canary to roll back; {self.stable} serves all traffic")
        return Release(stable=self.stable, registry=self.registry, rolled_back=self.canary, percent=0)

    @property
    def spec_version(self) -> str:
        """The version in the components' spec (the revision KServe creates last)."""
        return self.canary or self.rolled_back or self.stable

    def ops(self) -> Patch:
        """The JSON patch (RFC 6902) of the InferenceService that encodes this release."""
        ops: Patch = []
        for component in COMPONENTS:
            ops.append(
                {
                    "op": "replace",
                    "path": f"/spec/{component}/containers/0/image",
                    "value": image(self.registry, component, self.spec_version),
                }
            )
            if self.percent is not None:  # both components move together: one version's steps and model
                ops.append({"op": "add", "path": f"/spec/{component}/canaryTrafficPercent", "value": self.percent})
        notes = {STABLE: self.stable, REGISTRY: self.registry, CANARY: self.canary, ROLLED_BACK: self.rolled_back}
        ops += [{"op": "add", "path": _pointer(k), "value": v} for k, v in notes.items() if v]
        return ops

    @classmethod
    def from_ops(cls, ops: Patch) -> Release:
        """Read a release back from its patch."""
        notes = {op["path"].rsplit("~1", 1)[1]: op["value"] for op in ops if op["path"].startswith(_pointer(""))}
        percents = [op["value"] for op in ops if op["path"].endswith("/canaryTrafficPercent")]
        if STABLE not in notes or REGISTRY not in notes:
            raise ReleaseError("release patch without its stable-version and registry annotations")
        return cls(
            stable=str(notes[STABLE]),
            registry=str(notes[REGISTRY]),
            canary=notes.get(CANARY),
            percent=int(percents[0]) if percents else None,
            rolled_back=notes.get(ROLLED_BACK),
        )


def read(overlay: Path) -> Release:
    """The release an overlay deploys.

    Raises:
        ReleaseError: the overlay has no readable ``release.yaml``.
    """
    path = overlay / FILE
    try:
        ops = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ReleaseError(f"cannot read the release of {overlay}: {error}") from error
    if not isinstance(ops, list):
        raise ReleaseError(f"{path}: not a JSON patch (a list of operations)")
    return Release.from_ops(ops)


def render(release: Release) -> str:
    """The ``release.yaml`` text of a release."""
    body: str = yaml.safe_dump(release.ops(), sort_keys=False, default_flow_style=None, width=120)
    return HEADER + body


def write(overlay: Path, release: Release) -> Path:
    """Rewrite the overlay's ``release.yaml``."""
    path = overlay / FILE
    path.write_text(render(release), encoding="utf-8")
    return path
