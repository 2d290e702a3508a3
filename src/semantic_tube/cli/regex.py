"""`stp regex equal`: decide whether brics-dialect regexes (NL-RX) match the same strings.

    stp regex equal 'a.*' 'a.*.*'                 # one pair: exit 0 equivalent, 1 not, 2 bad input
    stp regex equal --pairs pairs.tsv             # one verdict line per tab-separated pair, exit 0

The verdict lines are listed in OUTPUT_FORMAT (shown by --help). A witness is always quoted and
escaped, so the empty string is visible as `""` and a tab, newline or backslash in one cannot
break the line format. Imports only the regex package, so it starts fast.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from semantic_tube.regex import BoundaryMode, EquivalenceResult, RegexSyntaxError, equivalent, fullmatch, parse

EXIT_EQUIVALENT, EXIT_DIFFERENT, EXIT_USAGE = 0, 1, 2
OUTPUT_FORMAT = """\
output: one line per pair, tab-separated columns
  equivalent
  different<TAB>"WITNESS"<TAB>matched by left only | matched by right only
  unparsable<TAB>left | right | both
  timeout
WITNESS is a shortest string that exactly one side matches, written as a double-quoted
Python string literal (ast.literal_eval reads it back), so "" is the empty string.
One pair exits 0 when equivalent, 1 when different, 2 on bad input; --pairs exits 0
once every line is decided."""


class _MalformedPairs(Exception):
    """Lines of a pairs file that are not exactly two tab-separated fields."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stp regex", description="Regexes in the dk.brics.automaton dialect (NL-RX).")
    commands = parser.add_subparsers(dest="command", required=True)
    equal = commands.add_parser(
        "equal",
        help="decide whether two regexes match the same strings",
        description="Decide whether regexes match the same strings\n"
        "(brics dialect: `&` intersection, `~` complement, whole-string matching).",
        epilog=OUTPUT_FORMAT,
        formatter_class=argparse.RawDescriptionHelpFormatter,  # keeps the epilog's table as written
    )
    equal.add_argument(
        "regexes", nargs="*", metavar="REGEX", help="the two regexes to compare, left then right (omit with --pairs)"
    )
    equal.add_argument(
        "--pairs",
        metavar="FILE.tsv",
        help="compare every line's two tab-separated regexes ('-' reads stdin); prints one verdict per line "
        "(default: none, compare the two REGEX arguments)",
    )
    equal.add_argument(
        "--boundary",
        choices=[mode.value for mode in BoundaryMode],
        default=BoundaryMode.LITERAL.value,
        help="how to read \\b: literal = the letter b, as brics does; strip = the empty string; "
        "boundary = an ASCII word boundary (default: %(default)s)",
    )
    equal.add_argument(
        "--timeout", type=float, default=2.0, metavar="SECONDS", help="per-pair time limit (default: %(default)s)"
    )
    return parser


def format_result(result: EquivalenceResult, left: str, boundary: str) -> str:
    """The one-line verdict shared by both modes (see OUTPUT_FORMAT); `left` is the pair's left regex."""
    if result.status == "different":
        assert result.witness is not None
        return f"different\t{_quote(result.witness)}\tmatched by {_matching_side(left, result.witness, boundary)} only"
    if result.status == "unparsable":
        return f"unparsable\t{result.unparsable_side}"
    return result.status


def _quote(text: str) -> str:
    """`text` as a double-quoted Python literal on one line: the empty witness shows as `""`, not as nothing."""
    escaped = text.encode("unicode_escape").decode("ascii").replace('"', '\\"')
    return f'"{escaped}"'


def _matching_side(left: str, witness: str, boundary: str) -> str:
    """Which regex matches the witness; it tells the two apart, so exactly one side does and one run decides."""
    return "left" if fullmatch(left, witness, boundary) else "right"


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
    print(format_result(result, left, boundary))
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
        print(format_result(equivalent(left, right, boundary=boundary, timeout_s=timeout_s), left, boundary))
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
