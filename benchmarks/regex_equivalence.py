"""Time `semantic_tube.regex.equivalent` on NL-RX test targets against perturbed copies of themselves.

    python benchmarks/regex_equivalence.py [--data DIR] [--boundary literal|strip|boundary] [--timeout 2] [--seed 0]

Each target is paired with one perturbation of each applicable kind: drop a `.*`, duplicate a
`.*`, swap a character class, change a repeat count. Pairs are timed twice: cold (all caches
cleared before each pair, as for a one-off comparison) and warm (one pass in order with the
caches kept, as `stp regex equal --pairs` runs). Prints median and worst ms per pair and the
number of timeouts. The target is a median under 5 ms. Exits 0 with a message when the data
folder is absent.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

from semantic_tube.regex import clear_caches, equivalent

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "nl-rx-synth"
CLASSES = ["[A-Za-z]", "[a-z]", "[A-Z]", "[0-9]", "[AEIOUaeiou]"]
COUNT = re.compile(r"\{(\d+)(,?)(\d*)\}")


def load_targets(path: Path) -> list[str]:
    with path.open(encoding="utf-8") as lines:
        records = [json.loads(line) for line in lines if line.strip()]
    return [next(m["content"] for m in r["messages"] if m["role"] == "assistant") for r in records]


def _replace_one(text: str, start: int, end: int, new: str) -> str:
    return text[:start] + new + text[end:]


def perturbations(regex: str, rng: random.Random) -> list[tuple[str, str]]:
    """(kind, perturbed regex) for each kind that applies to `regex`."""
    out = []
    stars = [m.start() for m in re.finditer(re.escape(".*"), regex)]
    if stars:
        at = rng.choice(stars)
        out.append(("drop .*", _replace_one(regex, at, at + 2, "")))
        out.append(("duplicate .*", _replace_one(regex, at, at + 2, ".*.*")))
    classes = [m for m in re.finditer("|".join(map(re.escape, CLASSES)), regex)]
    if classes:
        match = rng.choice(classes)
        other = rng.choice([c for c in CLASSES if c != match.group()])
        out.append(("swap class", _replace_one(regex, match.start(), match.end(), other)))
    counts = list(COUNT.finditer(regex))
    if counts:
        match = rng.choice(counts)
        low = max(0, int(match.group(1)) + rng.choice([-1, 1]))
        out.append(("change count", _replace_one(regex, match.start(1), match.end(1), str(low))))
    return out


def time_pairs(
    pairs: list[tuple[str, str, str]], boundary: str, timeout_s: float, cold: bool
) -> tuple[list[float], Counter]:
    times, verdicts = [], Counter()
    if not cold:
        clear_caches()
    for _, target, perturbed in pairs:
        if cold:
            clear_caches()
        start = time.perf_counter()
        result = equivalent(target, perturbed, boundary=boundary, timeout_s=timeout_s)
        times.append((time.perf_counter() - start) * 1e3)
        verdicts[result.status] += 1
    return times, verdicts


def report(label: str, pairs: list, times: list[float], verdicts: Counter) -> None:
    ranked = sorted(range(len(times)), key=times.__getitem__, reverse=True)
    print(
        f"{label}: {len(times)} pairs, median {statistics.median(times):.3f} ms, "
        f"p99 {sorted(times)[int(0.99 * (len(times) - 1))]:.2f} ms, worst {times[ranked[0]]:.1f} ms, "
        f"timeouts {verdicts['timeout']}, verdicts {dict(verdicts)}"
    )
    for index in ranked[:3]:
        kind, target, perturbed = pairs[index]
        print(f"  slow: {times[index]:8.1f} ms  {kind:<13} {target}  vs  {perturbed}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder holding test.jsonl")
    parser.add_argument(
        "--boundary", choices=["literal", "strip", "boundary"], default="literal", help="reading of \\b"
    )
    parser.add_argument("--timeout", type=float, default=2.0, help="per-pair time limit in seconds")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    path = args.data / "test.jsonl"
    if not path.is_file():
        print(f"skipped: NL-RX test data not found at {path}")
        return 0
    rng = random.Random(args.seed)
    pairs = [(kind, target, new) for target in load_targets(path) for kind, new in perturbations(target, rng)]
    print(f"{len(pairs)} pairs from {path}; kinds {dict(Counter(kind for kind, _, _ in pairs))}")
    for label, cold in (("cold", True), ("warm", False)):
        times, verdicts = time_pairs(pairs, args.boundary, args.timeout, cold)
        report(label, pairs, times, verdicts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
