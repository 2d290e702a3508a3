"""`stp report`: the tables, paired t-tests and figures of a sweep (or of plain `stp train` folders).

    stp report runs/quick
    stp report runs/quick --out results/quick --baseline ntp --metric equivalent
    stp report runs            # plain folders runs/stp-82, runs/ntp-82, ... (method from stp_lambda)

Reads the run folders only (metrics.json, stp_config.yaml, trainer_state.json, sweep_point.json,
failed.json, eval/<task>/eval.json; never logs) and writes report.md with its PNG figures into
the sweep folder (or --out): per task, mean +- std over seeds of every metric for each
configuration; paired one-tailed t-tests of each method against the baseline and against each
other (pairs matched by seed within the same data fraction and other coordinates), with the
smallest difference the design could detect and the seeds a 2-point gain would need; each
configuration's treatment strength (its trained STP against plain fine-tuning's, weak below a
10% fall); Figures 1b, 4a (with its plateau test), 4b (STP's slope in log lambda, NTP against
lambda 0), 6, 7 (a quadratic in log lambda, its peak) and Table 1 where the runs hold their data;
failed and unfinished runs listed with their error. Every report links docs/experiments/reading-reports.md for how each number is
computed and read. Prints where it wrote and the headline table. Needs no model (no torch).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from semantic_tube.cli.options import add_option
from semantic_tube.experiments.report import DEFAULT_BASELINE, REPORT_FILE, ReportError, write_report
from semantic_tube.experiments.runs import RunFolderError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stp report", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="a sweep folder (runs/<name>), a folder of stp train outputs, or one stp train output")
    add_option(
        parser,
        "--output_dir",
        "--out",  # its older name, kept so old commands still work
        type=Path,
        metavar="DIR",
        help=f"where {REPORT_FILE} and the figures go (default: FOLDER)",
    )
    add_option(
        parser,
        "--baseline",
        metavar="METHOD",
        help=(
            "the method the others are tested against, as the report names it (ntp, or 'stp λ=0.005' in a lambda sweep; "
            f"default: {DEFAULT_BASELINE}, else the method trained with stp_lambda 0)"
        ),
    )
    add_option(
        parser,
        "--metric",
        metavar="M",
        help=(
            "the task metric tested and plotted, e.g. equivalent or paper_correct "
            "(default: the task's own: exact, correct, execution, match, accuracy)"
        ),
    )
    return parser


def main(argv: list[str]) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:  # argparse exits on --help and on bad arguments
        return int(exit_.code or 0)
    try:
        report = write_report(args.folder, args.output_dir, baseline=args.baseline, metric=args.metric)
    except (RunFolderError, ReportError) as err:
        print(f"stp report: error: {err}", file=sys.stderr)
        return 2
    figures = ", ".join(path.name for path in report.figures) or "no figures (the runs hold no data for them)"
    print(f"stp report: wrote {report.path} and {len(report.figures)} figure(s): {figures}")
    if report.headline:
        print()
        print(report.headline)
    return 0
