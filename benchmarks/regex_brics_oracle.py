"""Compare `semantic_tube.regex.equivalent` (literal `\\b`) with dk.brics.automaton itself on many NL-RX pairs.

    apt-get install -y libautomaton-java   # the original library; needs a JDK for javac
    python benchmarks/regex_brics_oracle.py [--data DIR] [--jar /usr/share/java/automaton.jar] [--seed 0]

Pairs: every train and test target against its perturbations (see regex_equivalence.py),
random pairs of targets, a target against its intersection with another, complements of
perturbed pairs, and corners of the dialect (QUIRKS) all against all. For each pair it checks
that brics gives the same verdict and the same emptiness of both sides, and that brics also
accepts exactly one side on our witness. brics is an oracle here only, never a run-time
dependency. Exits 0 with a message when the data, the jar or the JDK is missing; exits 1 if
any pair disagrees.
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from regex_equivalence import DEFAULT_DATA, load_targets, perturbations

from semantic_tube.regex import EquivalenceResult, equivalent

ORACLE_SOURCE = Path(__file__).resolve().with_name("BricsOracle.java")
DEFAULT_JAR = Path("/usr/share/java/automaton.jar")
# Corners of the dialect, compared all against all: misplaced operators read as literals, `#`, `@`, `""`.
QUIRKS = [
    "a||b",
    "a|\\|b",
    "*a",
    "\\*a",
    "a&&b",
    "#",
    "@",
    "()",
    '""',
    '"a|b"',
    "~()",
    ".+",
    "a{3,2}",
    "(a{3,2})*",
    "[^a]",
    ".&~a",
    "[]a]",
    "~~a",
    "(~a)*",
    "~a*",
    "\\b",
    "b",
    "[a-]",
    "a{2}{3}",
    "a{6}",
    "a|)",
    "a?+*",
]


def build_pairs(targets: list[str], rng: random.Random) -> list[tuple[str, str, str]]:
    pairs = [(kind, target, new) for target in targets for kind, new in perturbations(target, rng)]
    for target in targets:
        other = rng.choice(targets)
        pairs.append(("random pair", target, other))
        pairs.append(("intersect", target, f"({target})&({other})"))
    pairs += [("complement", f"~({a})", f"~({b})") for kind, a, b in rng.sample(pairs, len(targets) // 2)]
    return pairs + [("quirk", a, b) for a in QUIRKS for b in QUIRKS]


def oracle_line(left: str, right: str, result: EquivalenceResult) -> str:
    witness = result.witness if result.status == "different" else None
    usable = witness is not None and not any(c in witness for c in "\t\r\n")
    return f"{left}\t{right}\t{'1' if usable else '0'}\t{witness if usable else ''}"


def run_oracle(jar: Path, lines: list[str]) -> list[list[str]]:
    with tempfile.TemporaryDirectory() as build:
        subprocess.run(["javac", "-cp", str(jar), "-d", build, str(ORACLE_SOURCE)], check=True)
        completed = subprocess.run(
            ["java", "-cp", f"{jar}:{build}", "BricsOracle"],
            input="\n".join(lines) + "\n",
            capture_output=True,
            text=True,
            encoding="utf-8",
            check=True,
        )
    return [line.split("\t") for line in completed.stdout.splitlines()]


def disagreements(result: EquivalenceResult, verdict: list[str]) -> list[str]:
    status, left_empty, right_empty, separates = verdict
    problems = []
    if status != result.status:
        problems.append(f"verdict ours={result.status} brics={status}")
    if status != "unparsable":
        if (left_empty == "true", right_empty == "true") != (result.left_empty, result.right_empty):
            problems.append(f"emptiness ours={result.left_empty},{result.right_empty} brics={left_empty},{right_empty}")
        if separates == "false":
            problems.append(f"brics does not separate on witness {result.witness!r}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder holding train.jsonl and test.jsonl")
    parser.add_argument("--jar", type=Path, default=DEFAULT_JAR, help="dk.brics.automaton jar")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    missing = [str(p) for p in (args.data / "train.jsonl", args.data / "test.jsonl", args.jar) if not p.is_file()]
    missing += [tool for tool in ("javac", "java") if shutil.which(tool) is None]
    if missing:
        print(f"skipped: missing {', '.join(missing)}")
        return 0
    targets = load_targets(args.data / "train.jsonl") + load_targets(args.data / "test.jsonl")
    pairs = build_pairs(targets, random.Random(args.seed))
    ours = [equivalent(left, right, timeout_s=10.0) for _, left, right in pairs]
    brics = run_oracle(args.jar, [oracle_line(left, right, result) for (_, left, right), result in zip(pairs, ours)])
    failures = Counter()
    for (kind, left, right), result, verdict in zip(pairs, ours, brics, strict=True):
        problems = disagreements(result, verdict)
        if problems:
            failures[kind] += 1
            if sum(failures.values()) <= 10:
                print(f"DISAGREE [{kind}] {left!r} vs {right!r}: {'; '.join(problems)}")
    statuses = Counter(result.status for result in ours)
    print(f"{len(pairs)} pairs ({dict(Counter(kind for kind, _, _ in pairs))}); ours: {dict(statuses)}")
    print(f"disagreements with brics: {sum(failures.values())} {dict(failures)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
