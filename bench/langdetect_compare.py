"""Compare offline language detectors on short, noisy case texts: accuracy, speed, memory.

    python -m bench.langdetect_compare

Each detector runs in a fresh subprocess (so its memory is its own), restricted to the CRM's
candidate languages where it allows it. Test texts: synthetic cases in six languages cut to their
first 40 and 120 characters (short and noisy: error codes, product names, typos). Detectors that
are not installed are reported as such; py3langid is the project's, eldc and lingua are optional
(``pip install eldc lingua-language-detector``).
"""

from __future__ import annotations

import json
import subprocess
import sys

_PROBE = r"""
import json, sys, time, resource
from case_model.training.demo_data import generate_cases
name = sys.argv[1]
langs = ["en", "de", "fr", "es", "it", "pt"]
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if name == "py3langid":
    from py3langid.langid import MODEL_FILE, LanguageIdentifier
    ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    ident.set_languages(langs)
    detect = lambda t: ident.classify(t)[0]
elif name == "eldc":
    import eldc
    eldc.init()
    detect = lambda t: str(eldc.detect(t)) or "unknown"
elif name == "lingua":
    from lingua import IsoCode639_1, LanguageDetectorBuilder
    codes = [getattr(IsoCode639_1, l.upper()) for l in langs]
    det = LanguageDetectorBuilder.from_iso_codes_639_1(*codes).build()
    def detect(t):
        r = det.detect_language_of(t)
        return r.iso_code_639_1.name.lower() if r else "unknown"
cases = [c for c in generate_cases(6000, seed=31, prefix="L") if c.language in langs]
by_lang = {}
for c in cases:
    by_lang.setdefault(c.language, []).append(c)
sample = [c for l in langs for c in by_lang[l][:150]]
out = {}
for width in (40, 120):
    texts = [c.text[:width] for c in sample]
    detect(texts[0])
    start = time.perf_counter()
    guesses = [detect(t) for t in texts]
    per = (time.perf_counter() - start) / len(texts)
    out[f"accuracy_{width}"] = sum(g == c.language for g, c in zip(guesses, sample)) / len(sample)
    out[f"us_per_text_{width}"] = per * 1e6
codes = ["0x0000007B 2000-0142", "7XK2M3Q PXE-E61", "https://x.example/a1b2", "E2001 0xC000021A"]
out["codes_named_a_language"] = sum(detect(t) not in ("unknown", "") for t in codes)
out["rss_mb"] = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
print(json.dumps(out))
"""


def main() -> None:
    print(
        "| detector | accuracy, 40 chars | accuracy, 120 chars | µs/text (120) "
        "| code-only texts given a language (of 4) | added RSS MB |"
    )
    print("|---|---|---|---|---|---|")
    for name in ("py3langid", "eldc", "lingua"):
        result = subprocess.run([sys.executable, "-c", _PROBE, name], capture_output=True, text=True)
        if result.returncode:
            reason = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "failed"
            print(f"| {name} | not measured: {reason[:80]} | | | | |")
            continue
        r = json.loads(result.stdout)
        print(
            f"| {name} | {r['accuracy_40']:.3f} | {r['accuracy_120']:.3f} | {r['us_per_text_120']:.0f} | "
            f"{r['codes_named_a_language']} | {r['rss_mb']:.0f} |"
        )


if __name__ == "__main__":
    main()
