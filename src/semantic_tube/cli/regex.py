"""`stp regex equal`: decide whether brics-dialect regexes (NL-RX) match the same strings.

    stp regex equal 'a.*' 'a.*.*'                 # one pair: exit 0 equivalent, 1 not, 2 bad input
    stp regex equal --pairs pairs.tsv             # one verdict line per tab-separated pair, exit 0

Verdict lines are `equivalent`, `different<TAB>witness`, `unparsable<TAB>left|right|both` or
`timeout`. Witnesses are written with Python's unicode_escape, so a tab, newline or backslash
in one cannot break the line format. Imports only the regex package, so it starts fast.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from semantic_tube.regex import BoundaryMode, EquivalenceResult, RegexSyntaxError, equivalent, parse

EXIT_EQUIVALENT, EXIT_DIFFERENT, EXIT_USAGE = 0, 1, 2


class _MalformedPairs(Exception):
    """Lines of a pairs file that are not exactly two tab-separated fields."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stp regex", description="Regexes in the dk.brics.automaton dialect (NL-RX).")
    commands = parser.add_subparsers(dest="command", required=True)
    equal = commands.add_parser(
        "equal",
        help="decide whether two regexes match the same strings",
        description="Decide whether regexes match the same strings (`&` intersection, `~` complement, whole-string).",
    )
    equal.add_argument("regexes", nargs="*", metavar="REGEX", help="the two regexes to compare (omit with --pairs)")
    equal.add_argument(
        "--pairs",
        metavar="FILE.tsv",
        help="compare every line's two tab-separated regexes ('-' reads stdin); prints one verdict per line",
    )
    equal.add_argument(
        "--boundary",
        choices=[mode.value for mode in BoundaryMode],
        default=BoundaryMode.LITERAL.value,
        help="how to read \\b: the letter b as brics does (default), the empty string, or an ASCII word boundary",
    )
    equal.add_argument("--timeout", type=float, default=2.0, metavar="SECONDS", help="per-pair time limit (default 2)")
    return parser


def format_result(result: EquivalenceResult) -> str:
    """The one-line verdict shared by both modes."""
    if result.status == "different":
        return f"different\t{_escape(result.witness or '')}"
    if result.status == "unparsable":
        return f"unparsable\t{result.unparsable_side}"
    return result.status


def _escape(text: str) -> str:
    return text.encode("unicode_escape").decode("ascii")


def main(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.pairs is not None:
        if args.regexes:
            parser.error("give either two regexes or --pairs FILE, not both")
        return _compare_file(args.pairs, args.boundary, args.timeout)
    if len(args.regexes) != 2:
        parser.error(f"expected two regexes, got {len(args.regexes)}")
    return _compare_one(*args.regexes, boundary=args.boundary, timeout_s=args.timeout)


def _compare_one(left: str, right: str, boundary: str, timeout_s: float) -> int:
    result = equivalent(left, right, boundary=boundary, timeout_s=timeout_s)
    if result.status == "unparsable":
        for side, regex in (("left", left), ("right", right)):
            if result.unparsable_side in (side, "both"):
                print(f"stp regex: {side} regex: {_syntax_error(regex)}", file=sys.stderr)
        return EXIT_USAGE
    print(format_result(result))
    return EXIT_EQUIVALENT if result.equal else EXIT_DIFFERENT


def _syntax_error(regex: str) -> RegexSyntaxError:
    try:
        parse(regex)
    except RegexSyntaxError as error:
        return error
    raise AssertionError(f"{regex!r} parses, yet was reported unparsable")


def _compare_file(name: str, boundary: str, timeout_s: float) -> int:
    try:
        pairs = _read_pairs(name)
    except OSError as error:
        print(f"stp regex: cannot read {name}: {error.strerror}", file=sys.stderr)
        return EXIT_USAGE
    except _MalformedPairs as error:
        print(error, file=sys.stderr)
        return EXIT_USAGE
    for left, right in pairs:
        print(format_result(equivalent(left, right, boundary=boundary, timeout_s=timeout_s)))
    return EXIT_EQUIVALENT


def _read_pairs(name: str) -> list[tuple[str, str]]:
    """All pairs, checked before any is compared, so a bad line cannot leave a half-written output."""
    if name == "-":
        return _parse_pairs(sys.stdin, "<stdin>")
    with Path(name).open(encoding="utf-8", newline="") as lines:
        return _parse_pairs(lines, name)


def _parse_pairs(lines: TextIO, name: str) -> list[tuple[str, str]]:
    pairs, problems = [], []
    for number, line in enumerate(lines, start=1):
        fields = line.rstrip("\r\n").split("\t")
        if len(fields) == 2:
            pairs.append((fields[0], fields[1]))
        else:
            problems.append(f"{name}:{number}: expected 2 tab-separated fields, got {len(fields)}")
    if problems:
        raise _MalformedPairs("\n".join(problems))
    return pairs
