"""`stp data nlrx | stats | leakage` through `semantic_tube.cli.data.main`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from semantic_tube.cli.data import build_parser, main
from semantic_tube.data.messages import ChatExample, read_chat_jsonl, write_chat_jsonl
from semantic_tube.data.nlrx import DEFAULT_EXAMPLES, DEFAULT_SEED, write_nlrx


def _write(path, pairs):
    write_chat_jsonl(path, [ChatExample(user=u, assistant=a) for u, a in pairs])
    return path


def test_nlrx_writes_both_splits(tmp_path, capsys):
    assert main(["nlrx", "--n", "50", "--seed", "1", "--output-dir", str(tmp_path / "d"), "--test-fraction", "0.3"]) == 0
    train, test = read_chat_jsonl(tmp_path / "d" / "train.jsonl"), read_chat_jsonl(tmp_path / "d" / "test.jsonl")
    assert (len(train.examples), len(test.examples)) == (35, 15)
    assert "wrote" in capsys.readouterr().out


def test_nlrx_defaults_make_the_data_stp_train_generates(tmp_path):
    """`stp train` with no train_file calls write_nlrx(dir, DEFAULT_EXAMPLES, DEFAULT_SEED): same bytes."""
    assert main(["nlrx", "--output_dir", str(tmp_path / "cli")]) == 0
    train_path, test_path = write_nlrx(tmp_path / "train", DEFAULT_EXAMPLES, DEFAULT_SEED)
    assert (tmp_path / "cli" / "train.jsonl").read_bytes() == train_path.read_bytes()
    assert (tmp_path / "cli" / "test.jsonl").read_bytes() == test_path.read_bytes()
    assert len(read_chat_jsonl(train_path).examples) + len(read_chat_jsonl(test_path).examples) == 2500


def test_nlrx_default_values():
    args = build_parser().parse_args(["nlrx", "--output_dir", "d"])
    assert (args.n, args.seed, args.test_fraction, args.max_depth) == (2500, 0, 0.2, 3)


@pytest.mark.parametrize(
    "argv",
    [
        ["--output_dir", "d", "--test_fraction", "0.3", "--max_depth", "2"],
        ["--output-dir", "d", "--test-fraction", "0.3", "--max-depth", "2"],
        ["--out", "d", "--test-fraction", "0.3", "--max_depth", "2"],
    ],
)
def test_nlrx_dashed_underscored_and_old_names_set_the_same_options(argv):
    args = build_parser().parse_args(["nlrx", *argv])
    assert (args.output_dir, args.test_fraction, args.max_depth) == (Path("d"), 0.3, 2)


def test_nlrx_without_output_dir_is_a_usage_error(capsys):
    assert main(["nlrx", "--n", "10"]) == 2
    assert "--output_dir" in capsys.readouterr().err


def test_nlrx_same_seed_same_bytes(tmp_path):
    for name, seed in (("a", "5"), ("b", "5"), ("c", "6")):
        assert main(["nlrx", "--n", "40", "--seed", seed, "--output_dir", str(tmp_path / name)]) == 0
    read = lambda name: (tmp_path / name / "train.jsonl").read_bytes()  # noqa: E731
    assert read("a") == read("b") != read("c")


def test_nlrx_stats_beside_a_reference(tmp_path, capsys):
    reference = _write(tmp_path / "ref.jsonl", [("lines with a number", "[0-9]"), ("lines x", "(a)&(b)")])
    argv = ["nlrx", "--n", "30", "--seed", "0", "--output_dir", str(tmp_path / "d"), "--reference", str(reference)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "generated" in out and "ref.jsonl" in out
    assert "op &" in out and "regex_chars mean" in out and "empty language" in out


def test_nlrx_too_many_stops_without_writing(tmp_path, capsys):
    out_dir = tmp_path / "d"
    assert main(["nlrx", "--n", "100000", "--seed", "0", "--output_dir", str(out_dir), "--max_depth", "1"]) == 1
    err = capsys.readouterr().err
    assert "--n 100000 is too many" in err and "only" in err and "distinct" in err
    assert not out_dir.exists()


def test_nlrx_bad_test_fraction(tmp_path, capsys):
    for fraction in ("0", "1", "1.5", "x"):
        assert main(["nlrx", "--n", "10", "--seed", "0", "--output_dir", str(tmp_path), "--test_fraction", fraction]) == 2
        assert "--test_fraction" in capsys.readouterr().err
    assert not (tmp_path / "train.jsonl").exists()


def test_nlrx_malformed_reference_line(tmp_path, capsys):
    reference = _write(tmp_path / "ref.jsonl", [("lines with a number", "[0-9]")])
    with reference.open("a") as handle:
        handle.write(json.dumps({"messages": [{"role": "user", "content": "lines x"}]}) + "\n")
    argv = ["nlrx", "--n", "10", "--seed", "0", "--output_dir", str(tmp_path / "d"), "--reference", str(reference)]
    assert main(argv) == 2
    assert f"{reference}:2: messages.assistant:" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()


def test_stats_of_a_file_and_missing_file(tmp_path, capsys):
    data = _write(tmp_path / "data.jsonl", [("lines with a number", "[0-9]"), ("lines containing a b", ".*b.*")])
    assert main(["stats", str(data), "--reference", str(data)]) == 0
    out = capsys.readouterr().out
    assert out.count("data.jsonl") == 2 and "50.0% (1.00/ex)" in out
    assert main(["stats", str(tmp_path / "missing.jsonl")]) == 2
    assert "missing.jsonl" in capsys.readouterr().err


def test_leakage_command(tmp_path, capsys):
    a = _write(tmp_path / "a.jsonl", [("lines one", "x"), ("lines two", "y")])
    b = _write(tmp_path / "b.jsonl", [("lines one", "z"), ("lines three", "y"), ("lines four", "y")])
    c = _write(tmp_path / "c.jsonl", [("lines five", "w")])
    assert main(["leakage", str(a), str(b)]) == 1
    out = capsys.readouterr().out
    assert "descriptions in both files: 1" in out and "1 x 1  lines one" in out
    assert "regexes in both files: 1" in out and "1 x 2  y" in out
    assert main(["leakage", str(a), str(c)]) == 0
    assert "descriptions in both files: 0" in capsys.readouterr().out


def test_unknown_subcommand_and_help(capsys):
    assert main(["nope"]) == 2
    assert main(["--help"]) == 0
    assert "nlrx" in capsys.readouterr().out
