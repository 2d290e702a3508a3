"""`stp regex equal`: single pairs (exit code carries the verdict) and TSV batches (one line per pair)."""

import ast
import subprocess
import sys

import pytest

from semantic_tube.cli.regex import main


def run(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_equivalent_pair_exits_0(capsys):
    assert run(capsys, "equal", ".*", ".*.*") == (0, "equivalent\n", "")


def test_different_pair_prints_a_quoted_witness_and_the_side_matching_it(capsys):
    assert run(capsys, "equal", "a.*", "a+") == (1, 'different\t"ab"\tmatched by left only\n', "")
    assert run(capsys, "equal", "a+", "a.*") == (1, 'different\t"ab"\tmatched by right only\n', "")


def test_empty_witness_is_visible_as_two_quotes(capsys):
    assert run(capsys, "equal", "a*", "a+") == (1, 'different\t""\tmatched by left only\n', "")
    assert run(capsys, "equal", "a+", "a*") == (1, 'different\t""\tmatched by right only\n', "")


def test_boundary_flag_changes_the_reading_of_backslash_b(capsys):
    assert run(capsys, "equal", "\\bdog\\b", "dog")[0] == 1
    assert run(capsys, "equal", "--boundary", "strip", "\\bdog\\b", "dog")[0] == 0
    assert run(capsys, "equal", "--boundary", "boundary", "\\bdog\\b", "dog")[0] == 0


def test_unparsable_regex_shows_a_caret_and_exits_2(capsys):
    code, out, err = run(capsys, "equal", "a.*", "(a")
    assert code == 2 and out == ""
    assert "right regex" in err and "(a\n" in err and "  ^" in err


def test_wrong_number_of_regexes_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["equal", "a"])
    assert exited.value.code == 2
    assert "expected two regexes" in capsys.readouterr().err


def test_help_works(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["equal", "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert "--pairs" in out and "(default: literal)" in out and "(default: 2.0)" in out
    assert 'different<TAB>"WITNESS"<TAB>matched by left only | matched by right only' in out


def test_pairs_file_gives_one_line_per_pair_in_order(tmp_path, capsys):
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text(".*\t.*.*\na.*\ta+\n(\ta\na\ta)\n([A-Za-z])&(dog)\t#\n", encoding="utf-8")
    code, out, err = run(capsys, "equal", "--pairs", str(pairs))
    assert code == 0 and err == ""
    assert out.splitlines() == [
        "equivalent",
        'different\t"ab"\tmatched by left only',
        "unparsable\tleft",
        "unparsable\tright",
        "equivalent",
    ]


def test_pairs_file_reports_timeouts(tmp_path, capsys):
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("(.*a.*b.*c.*d.*){9,}\t(.*a.*b.*c.*d.*){9,}.*x\n", encoding="utf-8")
    assert run(capsys, "equal", "--pairs", str(pairs), "--timeout", "0.01")[:2] == (0, "timeout\n")


def test_unprintable_witness_is_escaped(tmp_path, capsys):
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text(".\t[ -~]\n", encoding="utf-8")  # they differ only outside printable ASCII
    assert run(capsys, "equal", "--pairs", str(pairs))[1] == 'different\t"\\x00"\tmatched by left only\n'


@pytest.mark.parametrize(
    ("left", "witness"),
    [("a*", ""), ('\\"', '"'), ("\\\\", "\\"), ("\t", "\t"), ("\n", "\n"), ("é", "é"), ("\x00", "\x00")],
)
def test_every_witness_reads_back_from_its_three_column_line(left, witness, capsys):
    """A verdict stays one line of three tab-separated fields whatever the witness holds (tab, newline, quote)."""
    out = run(capsys, "equal", left, "#")[1]  # `#` matches nothing, so the witness is left's shortest match
    status, quoted, side = out.removesuffix("\n").split("\t")
    assert (status, ast.literal_eval(quoted), side) == ("different", witness, "matched by left only")


def test_malformed_pairs_line_names_file_and_line(tmp_path, capsys):
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("a\tb\nonly-one-field\na\tb\tc\n", encoding="utf-8")
    code, out, err = run(capsys, "equal", "--pairs", str(pairs))
    assert code == 2 and out == ""
    assert f"{pairs}:2:" in err and f"{pairs}:3:" in err


def test_missing_pairs_file_is_an_error(tmp_path, capsys):
    code, _, err = run(capsys, "equal", "--pairs", str(tmp_path / "absent.tsv"))
    assert code == 2 and "cannot read" in err


def test_regexes_and_pairs_together_are_a_usage_error(tmp_path):
    with pytest.raises(SystemExit) as exited:
        main(["equal", "--pairs", str(tmp_path / "p.tsv"), "a", "b"])
    assert exited.value.code == 2


def test_module_entry_point_runs_in_a_subprocess():
    completed = subprocess.run(
        [sys.executable, "-m", "semantic_tube", "regex", "equal", "a.*", "a.*.*"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (completed.returncode, completed.stdout) == (0, "equivalent\n"), completed.stderr
