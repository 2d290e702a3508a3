"""`stp report` (cli/report.py): its options with their older spelling, and a folder it cannot
read refused with exit 2 and a named error. The report itself is tested in
tests/experiments/test_report.py."""

from pathlib import Path

from semantic_tube.cli import report


def test_the_folder_and_the_options():
    args = report.build_parser().parse_args(["runs/quick"])
    assert (args.folder, args.output_dir, args.baseline, args.metric) == (Path("runs/quick"), None, None, None)
    args = report.build_parser().parse_args(["runs/quick", "--out", "results/q", "--baseline", "ntp", "--metric", "equivalent"])
    assert (args.output_dir, args.baseline, args.metric) == (Path("results/q"), "ntp", "equivalent")
    assert report.build_parser().parse_args(["r", "--output-dir", "o"]).output_dir == Path("o")


def test_a_missing_folder_is_a_named_error(tmp_path, capsys):
    assert report.main([str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert err == f"stp report: error: {tmp_path / 'nowhere'}: no such folder\n"


def test_help_exits_0_and_no_folder_is_a_usage_error(capsys):
    assert report.main(["--help"]) == 0 and "--baseline" in capsys.readouterr().out
    assert report.main([]) == 2 and "folder" in capsys.readouterr().err
