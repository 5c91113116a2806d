"""The release: which model version each slot runs, and how the CRM's traffic is split between them.

**One version per request.** The manifests hold two slots, InferenceServices ``case-classifier-blue``
and ``case-classifier-green``, each a whole model version (its transformer runs that wheel's text
steps, its predictor that wheel's classifier, and KServe links the two by name), and one weighted
route in front (``manifests/base/route.yaml``). A canary is the idle slot, loaded with the new
version while it gets no traffic, then given a share of the route. The split happens once per
request between whole versions, so a request's text steps and classifier are always one version;
KServe's ``canaryTrafficPercent``, which splits transformer and predictor independently, is not
used. (The transformer also refuses an answer from a predictor of another version: a second guard.)

**Who owns the images: the manifests, written by the rollout command.** Each overlay holds
``release/``: a JSON patch per slot (its images; ``minReplicas: 0`` while it is retired) and one of
the route (the weights, and annotations recording which slot is stable, what each runs and what
was rolled back). The rollout command changes a release only by rewriting those files and applying
the overlay, so a later ``kubectl apply -k`` applies the release the rollout made, never the base's
images, and the files under version control are the record of what runs.

**Images by digest, never by tag.** A tag is a pointer anyone who may push to
the registry can move; a digest names the bytes. Each slot's images are written as
``registry/case-classifier-<component>@sha256:<64 hex>``, the digests that CI's ``images`` job
printed when it pushed, scanned and signed them for the release, so what runs is exactly what was
scanned and signed, and no ``imagePullPolicy: Always`` is needed. A deploy takes one digest per
component (``--digest predictor=sha256:...``); the model version is still recorded (the route's
annotations, and the analysis compares versions), but no longer names an image. Reading a release
refuses one whose slot files name an image by tag, or differ from the digests the route records.

The steps refuse what would serve a version nobody chose: a second canary while one is in flight,
``promote`` with no canary in flight (after a rollback the rolled-back version cannot be promoted
by mistake), a slot's images changed while it has traffic. A deploy changes the idle slot only,
its registry included (each slot records its own), and takes a version only in PEP 440's normal
form (``1.3.0``, not ``"1.3.0 "`` nor ``v1.3.0``), checked before any file is written: a near-miss
would pass "already serves", and the version is what the analysis and the transformer's answers
name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml
from packaging.version import InvalidVersion, Version

SLOTS = ("blue", "green")
COMPONENTS = ("predictor", "transformer")
ANNOTATION = "case-classifier.io"
STABLE_SLOT, REGISTRY, ROLLED_BACK, STAGED = "stable-slot", "registry", "rolled-back-version", "staged"
FOLDER = "release"
ROUTE = "route"
HEADER = (
    "# Written by `case-rollout`, the owner of the images (by digest) and the traffic split;\n"
    "# `kubectl apply -k` deploys what it says. Change it with the rollout command (deploy, promote,\n"
    "# rollback), and commit it: it is the record of what runs.\n"
)
DIGEST = "digest"
Patch = list[dict[str, Any]]
#: One slot's image digests, in the order of COMPONENTS (predictor, transformer).
Digests = tuple[str, str]
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


class ReleaseError(ValueError):
    """A rollout step that would leave the service in a state nobody asked for."""


def check_version(version: str) -> str:
    """``version`` if it is a PEP 440 version in its normal form (what the wheel and image are tagged with).

    Raises:
        ReleaseError: not PEP 440, surrounded by whitespace, or not in normal form (which it names).
    """
    try:
        parsed = Version(version)
    except InvalidVersion:
        raise ReleaseError(f"model version {version!r} is not a PEP 440 version (e.g. 1.3.0)") from None
    if str(parsed) != version:
        raise ReleaseError(
            f"model version {version!r} is not written as PEP 440's normal form {str(parsed)!r}, "
            "which the wheel and the images are tagged with"
        )
    return version


def check_registry(registry: str) -> str:
    """``registry`` if it can prefix an image name (no whitespace, not empty).

    Raises:
        ReleaseError: otherwise.
    """
    if not registry.strip("/") or any(c.isspace() for c in registry):
        raise ReleaseError(f"registry {registry!r} is not an image registry (e.g. registry.example.com/ml)")
    return registry


def check_digest(component: str, digest: str) -> str:
    """``digest`` if it is an image digest as a registry gives it (``sha256:`` and 64 lowercase hex).

    A tag, a short or uppercase hash, or a whole image reference is refused: the release names
    the bytes that were scanned and signed, and only a digest does.

    Raises:
        ReleaseError: otherwise, naming the component and what was given.
    """
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        raise ReleaseError(
            f"{component} digest {digest!r} is not an image digest (sha256: and 64 lowercase hex digits, "
            "as CI's images job prints for each image it pushed)"
        )
    return digest


def digests_of(given: Mapping[str, str]) -> Digests:
    """One digest per component from ``{component: digest}``, each checked.

    Raises:
        ReleaseError: a component missing or unknown, or a digest that is not one.
    """
    unknown = sorted(set(given) - set(COMPONENTS))
    missing = [c for c in COMPONENTS if c not in given]
    if unknown or missing:
        raise ReleaseError(
            f"a deploy names one digest per component ({', '.join(COMPONENTS)}): "
            + "; ".join([*(f"{c} missing" for c in missing), *(f"{c} is not a component" for c in unknown)])
        )
    predictor, transformer = (check_digest(c, given[c]) for c in COMPONENTS)
    return predictor, transformer


def parse_digest_flags(flags: list[str]) -> dict[str, str]:
    """``{component: digest}`` from ``--digest component=sha256:...`` flags, unchecked beyond their
    shape (:func:`digests_of` checks them where the deploy takes them, after the version).

    Raises:
        ReleaseError: a flag without ``=``, or a component given twice.
    """
    given: dict[str, str] = {}
    for flag in flags:
        component, sep, digest = flag.partition("=")
        if not sep:
            raise ReleaseError(f"--digest {flag!r} is not component=sha256:<64 hex> (e.g. predictor=sha256:...)")
        if component in given:
            raise ReleaseError(f"--digest names {component} twice")
        given[component] = digest
    return given


def _same_version(a: str, b: str) -> bool:
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b


def image(registry: str, component: str, digest: str) -> str:
    """The image of ``component`` by digest: what runs is the image that was scanned and signed.

    Raises:
        ReleaseError: ``digest`` is not a digest (a tag is never written into a release).
    """
    return f"{check_registry(registry).rstrip('/')}/case-classifier-{component}@{check_digest(component, digest)}"


def inference_service(slot: str) -> str:
    """The InferenceService of a slot."""
    return f"case-classifier-{slot}"


def _pointer(key: str) -> str:
    return f"/metadata/annotations/{ANNOTATION}~1{key}"


def _other(slot: str) -> str:
    return SLOTS[1 - SLOTS.index(slot)]


@dataclass(frozen=True)
class Release:
    """What each slot runs and the share of traffic the non-stable slot gets.

    ``percent`` > 0: a canary is in flight in the other slot. ``staged``: the other slot holds a
    new version being readied at 0% (the first half of a deploy). ``digests``: each slot's images,
    which a deploy takes for the new version (the version alone names no bytes).
    """

    registries: tuple[str, str]  # (blue, green): a deploy changes only the idle slot's
    stable_slot: str
    versions: tuple[str, str]  # (blue, green)
    digests: tuple[Digests, Digests]  # (blue, green), each (predictor, transformer)
    percent: int = 0
    rolled_back: str | None = None
    staged: bool = False

    @classmethod
    def first(cls, version: str, registry: str, digests: Mapping[str, str]) -> Release:
        """A release serving ``version`` from the blue slot (the green one retired, same images)."""
        images = digests_of(digests)
        return cls(
            registries=(check_registry(registry), registry),
            stable_slot=SLOTS[0],
            versions=(check_version(version), version),
            digests=(images, images),
        )

    def version_of(self, slot: str) -> str:
        """The model version a slot runs."""
        return self.versions[SLOTS.index(slot)]

    def digests_of(self, slot: str) -> Digests:
        """A slot's image digests (predictor, transformer)."""
        return self.digests[SLOTS.index(slot)]

    def registry_of(self, slot: str) -> str:
        """The registry a slot's images come from."""
        return self.registries[SLOTS.index(slot)]

    @property
    def other_slot(self) -> str:
        """The slot that is not stable: the canary's, or retired."""
        return _other(self.stable_slot)

    @property
    def stable(self) -> str:
        """The version the stable slot serves."""
        return self.version_of(self.stable_slot)

    @property
    def canary(self) -> str | None:
        """The version of the canary in flight (a share of traffic, or staged for one)."""
        return self.version_of(self.other_slot) if self.percent or self.staged else None

    def weights(self) -> dict[str, int]:
        """The route's weight per slot."""
        return {self.stable_slot: 100 - self.percent, self.other_slot: self.percent}

    def _with(self, slot: str, version: str) -> tuple[str, str]:
        return (version, self.versions[1]) if slot == SLOTS[0] else (self.versions[0], version)

    def _with_registry(self, slot: str, registry: str) -> tuple[str, str]:
        return (registry, self.registries[1]) if slot == SLOTS[0] else (self.registries[0], registry)

    def _with_digests(self, slot: str, digests: Digests) -> tuple[Digests, Digests]:
        return (digests, self.digests[1]) if slot == SLOTS[0] else (self.digests[0], digests)

    def stage(self, version: str, digests: Mapping[str, str], registry: str | None = None) -> Release:
        """The first half of a deploy: the other slot loads ``version`` while it has no traffic.

        Only that slot changes: its version, its images (``digests``, one per component) and,
        given ``registry``, its registry (else the stable slot's). The stable slot keeps its
        images, registry included, whatever is given. The version is checked first, then the
        digests, and nothing is returned (so nothing written) unless both are sound.
        """
        check_version(version)
        images = digests_of(digests)
        if registry is not None:
            check_registry(registry)
        if self.percent or self.staged:
            raise ReleaseError(
                f"a canary of {self.canary} is in flight ({self.percent}%): promote or roll it back first"
            )
        if _same_version(version, self.stable):
            raise ReleaseError(f"{version} already serves all traffic (slot {self.stable_slot})")
        slot = self.other_slot
        return replace(
            self,
            registries=self._with_registry(slot, registry or self.registry_of(self.stable_slot)),
            versions=self._with(slot, version),
            digests=self._with_digests(slot, images),
            rolled_back=None,
            staged=True,
        )

    def deployment(
        self, version: str, percent: int, digests: Mapping[str, str], registry: str | None = None
    ) -> list[Release]:
        """A deploy's two releases, applied in order: staged, then ``percent`` of the traffic
        (100: all of it, at once)."""
        if not 0 < percent <= 100:
            raise ReleaseError(f"--canary must be within 1..100, got {percent}")
        staged = self.stage(version, digests, registry)
        return [staged, staged.shift(percent)]

    def deploy(self, version: str, percent: int, digests: Mapping[str, str], registry: str | None = None) -> Release:
        """The release a whole deploy ends in."""
        return self.deployment(version, percent, digests, registry)[-1]

    def shift(self, percent: int) -> Release:
        """The second half of a deploy: the staged slot takes ``percent`` (100: it becomes stable)."""
        if not self.staged:
            raise ReleaseError("nothing staged to shift traffic to")
        if percent == 100:
            return replace(self, stable_slot=self.other_slot, percent=0, staged=False)
        return replace(self, percent=percent, staged=False)

    def promote(self) -> Release:
        """The canary's slot becomes stable with all the traffic; the other slot retires."""
        if not self.percent:
            after = f" ({self.rolled_back} was rolled back)" if self.rolled_back else ""
            raise ReleaseError(f"no canary to promote{after}; {self.stable} serves all traffic")
        return replace(self, stable_slot=self.other_slot, percent=0)

    def rollback(self) -> Release:
        """All traffic back to the stable slot at once; the canary is remembered as rolled back."""
        if not (self.percent or self.staged):
            raise ReleaseError(f"no canary to roll back; {self.stable} serves all traffic")
        return replace(self, percent=0, staged=False, rolled_back=self.canary)

    def retired(self, slot: str) -> bool:
        """A slot with no traffic and nothing staged: scaled to zero (the overlay's replicas otherwise)."""
        return self.weights()[slot] == 0 and not (self.staged and slot == self.other_slot)

    def slot_ops(self, slot: str) -> Patch:
        """The JSON patch (RFC 6902) of a slot's InferenceService."""
        ops: Patch = [
            {
                "op": "replace",
                "path": f"/spec/{c}/containers/0/image",
                "value": image(self.registry_of(slot), c, digest),
            }
            for c, digest in zip(COMPONENTS, self.digests_of(slot), strict=True)
        ]
        if self.retired(slot):
            ops += [{"op": "replace", "path": f"/spec/{c}/minReplicas", "value": 0} for c in COMPONENTS]
        return ops

    def route_ops(self) -> Patch:
        """The JSON patch of the route: the weights, and the record of what runs where."""
        weights = self.weights()
        ops: Patch = [
            {"op": "replace", "path": f"/spec/http/0/route/{i}/weight", "value": weights[slot]}
            for i, slot in enumerate(SLOTS)
        ]
        notes: dict[str, Any] = {STABLE_SLOT: self.stable_slot}
        notes |= {f"{slot}-{REGISTRY}": self.registry_of(slot) for slot in SLOTS}
        notes |= {f"{slot}-version": self.version_of(slot) for slot in SLOTS}
        notes |= {_digest_key(s, c): d for s in SLOTS for c, d in zip(COMPONENTS, self.digests_of(s), strict=True)}
        notes |= {ROLLED_BACK: self.rolled_back, STAGED: "true" if self.staged else None}
        ops += [{"op": "add", "path": _pointer(k), "value": v} for k, v in notes.items() if v]
        return ops

    def files(self) -> dict[str, Patch]:
        """The release's patches by file stem: one per slot and the route's."""
        return {**{slot: self.slot_ops(slot) for slot in SLOTS}, ROUTE: self.route_ops()}

    @classmethod
    def from_route_ops(cls, ops: Patch) -> Release:
        """Read a release back from its route patch (one ``registry`` for both slots, as releases
        written before each slot recorded its own, is read as each slot's).

        Raises:
            ReleaseError: weights or annotations missing; a release written before digests (its
                images named by tag) says so, and a recorded digest that is not one is refused.
        """
        notes = {op["path"].rsplit("~1", 1)[1]: op["value"] for op in ops if op["path"].startswith(_pointer(""))}
        for slot in SLOTS:
            if REGISTRY in notes:
                notes.setdefault(f"{slot}-{REGISTRY}", notes[REGISTRY])
        weights = [int(op["value"]) for op in ops if op["path"].endswith("/weight")]
        expected = (STABLE_SLOT, *(f"{s}-{REGISTRY}" for s in SLOTS), *(f"{s}-version" for s in SLOTS))
        missing = [k for k in expected if k not in notes]
        if missing or len(weights) != len(SLOTS) or notes.get(STABLE_SLOT) not in SLOTS:
            raise ReleaseError(f"route patch without its weights or annotations ({', '.join(missing) or 'weights'})")
        undigested = [_digest_key(s, c) for s in SLOTS for c in COMPONENTS if _digest_key(s, c) not in notes]
        if undigested:
            raise ReleaseError(
                f"the release records no image digest ({', '.join(undigested)}): its images are named by tag, "
                "which the registry can move; deploy again with --digest for each component"
            )
        stable_slot = str(notes[STABLE_SLOT])
        blue, green = (digests_of({c: str(notes[_digest_key(s, c)]) for c in COMPONENTS}) for s in SLOTS)
        return cls(
            registries=(str(notes[f"{SLOTS[0]}-{REGISTRY}"]), str(notes[f"{SLOTS[1]}-{REGISTRY}"])),
            stable_slot=stable_slot,
            versions=(str(notes[f"{SLOTS[0]}-version"]), str(notes[f"{SLOTS[1]}-version"])),
            digests=(blue, green),
            percent=weights[SLOTS.index(_other(stable_slot))],
            rolled_back=notes.get(ROLLED_BACK),
            staged=notes.get(STAGED) == "true",
        )


def _digest_key(slot: str, component: str) -> str:
    return f"{slot}-{component}-{DIGEST}"


def _load(path: Path) -> Patch:
    try:
        ops = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ReleaseError(f"cannot read the release file {path}: {error}") from error
    if not isinstance(ops, list) or not all(isinstance(op, dict) and "path" in op for op in ops):
        raise ReleaseError(f"{path}: not a JSON patch (a list of operations)")
    return ops


def _images(ops: Patch) -> dict[str, object]:
    return {op["path"]: op.get("value") for op in ops if str(op["path"]).endswith("/image")}


def read(overlay: Path) -> Release:
    """The release an overlay deploys, refused unless every slot file names its images by digest.

    The route's annotations are the record; each slot's file is what ``kubectl apply -k`` sends.
    A slot file naming an image by tag (written by hand, or before digests) or by another digest
    than the route records would deploy what nobody scanned, or what the record does not say:
    both are refused here, so no rollout step starts from such a release.

    Raises:
        ReleaseError: a release file missing or unreadable, an image named by tag, or a slot file
            that disagrees with the route's record.
    """
    folder = overlay / FOLDER
    current = Release.from_route_ops(_load(folder / f"{ROUTE}.yaml"))
    for slot in SLOTS:
        path = folder / f"{slot}.yaml"
        found, expected = _images(_load(path)), _images(current.slot_ops(slot))
        for value in found.values():
            if not (isinstance(value, str) and re.search(rf"@{_DIGEST.pattern}$", value)):
                raise ReleaseError(f"{path}: {value!r} names an image by tag, not by digest (@sha256:<64 hex>)")
        if found != expected:
            raise ReleaseError(
                f"{path}: its images {sorted(map(str, found.values()))} are not the ones the route records "
                f"{sorted(map(str, expected.values()))}; rewrite the release with the rollout command"
            )
    return current


def render(release: Release) -> str:
    """The release's files as one text (for ``--dry-run``): each file's name, then its patch."""
    return "\n".join(f"# --- {FOLDER}/{stem}.yaml\n{_text(ops)}" for stem, ops in release.files().items())


def _text(ops: Patch) -> str:
    body: str = yaml.safe_dump(ops, sort_keys=False, default_flow_style=None, width=120)
    return HEADER + body


def write(overlay: Path, release: Release) -> list[Path]:
    """Rewrite the overlay's ``release/`` files."""
    folder = overlay / FOLDER
    folder.mkdir(exist_ok=True)
    paths = []
    for stem, ops in release.files().items():
        path = folder / f"{stem}.yaml"
        path.write_text(_text(ops), encoding="utf-8")
        paths.append(path)
    return paths
