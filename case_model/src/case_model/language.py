"""Offline language detection, and the gate that keeps detectors from guessing on codes.

Used by the reference language-detection service, by the transformer's ``local`` mode and
fallback, and by the batch pipeline, so all three answer alike. The detector is py3langid: its
model ships inside its wheel (nothing is downloaded), it loads in about half a second and takes
about 20 microseconds per short text; ``bench/langdetect_compare.py`` holds the comparison.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from case_model.words import TO_DETECT, words_outside_urls

UNKNOWN = "unknown"
#: Languages the classifier is trained and trusted on; configuration may narrow or widen it.
DEFAULT_SUPPORTED: tuple[str, ...] = ("en", "de", "fr", "es")
#: Candidate languages of the detector: those the CRM sees, a superset of the supported ones.
DETECTOR_LANGUAGES: tuple[str, ...] = ("en", "de", "fr", "es", "it", "pt", "nl", "pl", "sv", "da")

#: Only the leading characters are examined: the language shows in them, and the detector's cost
#: grows with the length (0.16 ms for a whole case, a third of that for 400 characters).
DETECT_CHARS = 400
#: Below this confidence a detection is ``unknown``: the detector is guessing.
MIN_CONFIDENCE = 0.5


def has_real_words(text: str) -> bool:
    """Tell whether ``text`` holds enough natural-language words to detect a language.

    Every detector tried names a language, with high confidence, for ``0x0000007B 7XK2M3Q
    https://x.y``; such texts must come back ``unknown`` instead of a guess.
    """
    return TO_DETECT.met_by(words_outside_urls(text))


@dataclass(frozen=True, slots=True)
class Detection:
    """One text's language (ISO 639-1, or ``unknown``) and the detector's confidence in it."""

    language: str
    confidence: float


_UNKNOWN = Detection(UNKNOWN, 0.0)


class LocalDetector:
    """py3langid, restricted to a set of candidate languages, behind the real-words gate.

    Restricting the candidates matters for short noisy texts: with all 97 languages a two-line
    English case with error codes is often called Latin or Malay.
    """

    def __init__(
        self,
        languages: Sequence[str] | None = None,
        min_confidence: float = MIN_CONFIDENCE,
        max_chars: int = DETECT_CHARS,
    ) -> None:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        self._identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        if languages:
            self._identifier.set_languages(list(languages))
        self._min_confidence = min_confidence
        self._max_chars = max_chars
        # The identifier keeps scratch state per call; one lock makes it safe to share.
        self._lock = threading.Lock()

    def detect(self, text: str) -> Detection:
        """Detect one text's language; ``unknown`` without real words or below the confidence floor."""
        text = text[: self._max_chars]
        if not has_real_words(text):
            return _UNKNOWN
        with self._lock:
            language, confidence = self._identifier.classify(text)
        if confidence < self._min_confidence:
            return Detection(UNKNOWN, float(confidence))
        return Detection(str(language), float(confidence))

    def detect_many(self, texts: Iterable[str]) -> list[Detection]:
        """Detect a batch of texts, in order."""
        return [self.detect(text) for text in texts]
