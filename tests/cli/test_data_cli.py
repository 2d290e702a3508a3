"""`stp data nlrx | stats | leakage | prepare` through `semantic_tube.cli.data.main`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from semantic_tube.cli.data import build_parser, main
from semantic_tube.data.messages import ChatExample, read_chat_jsonl, write_chat_jsonl
from semantic_tube.data.nlrx import DEFAULT_EXAMPLES, DEFAULT_SEED, write_nlrx
from semantic_tube.data.prepare import split_indices
from tests.data.public_rows import made_up_rows


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
    assert (args.nlrx_examples, args.nlrx_seed, args.test_fraction, args.max_depth) == (2500, 0, 0.2, 3)


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
    assert "--nlrx_examples 100000 is too many" in err and "only" in err and "distinct" in err
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


# --- stp data prepare ---------------------------------------------------------------------------

PREPARE_SPLITS = {  # the public data set's splits a made-up source holds, and its rows per split
    "gsm8k": {"train": 6, "test": 3},
    "spider": {"train": 20, "validation": 5},
    "nq_open": {"train": 6, "validation": 3},
    "hellaswag": {"train": 6, "validation": 3, "test": 2},
}
EXPECTED_SIZES = {"gsm8k": (6, 3), "spider": (20, 5), "nq_open": (6, 3), "hellaswag": (6, 3)}  # 20 + 5 pooled, 18% test


@pytest.fixture
def datasets_lib(tmp_path, monkeypatch):
    datasets = pytest.importorskip("datasets")
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))  # local loads cache here
    return datasets


def _public_splits(task):
    splits, start = {}, 0
    for split, n in PREPARE_SPLITS[task].items():
        splits[split] = made_up_rows(task, n, start)
        start += n
    if task == "hellaswag":
        splits["test"] = [{**row, "label": ""} for row in splits["test"]]  # the Hub's test split is unlabelled
    return splits


def _expected(task, splits):
    from semantic_tube.data.prepare import SOURCES

    spec = SOURCES[task]
    plan = spec.plan("paper")
    if task == "spider":
        every = [spec.mapping(row) for name in plan.pool for row in splits[name]]
        train, test = split_indices(len(every), plan.test_size, plan.seed)
        return [every[i] for i in train], [every[i] for i in test]
    return [spec.mapping(row) for row in splits[plan[0]]], [spec.mapping(row) for row in splits[plan[1]]]


def _written(out):
    return [[json.loads(line) for line in (out / f"{name}.jsonl").read_text().splitlines()] for name in ("train", "test")]


@pytest.mark.parametrize("task", list(PREPARE_SPLITS))
@pytest.mark.parametrize("layout", ["save_to_disk", "jsonl_folder"])
def test_prepare_from_a_local_copy_writes_the_papers_format(task, layout, datasets_lib, tmp_path, capsys):
    splits = _public_splits(task)
    source = tmp_path / "source"
    if layout == "save_to_disk":
        datasets_lib.DatasetDict({name: datasets_lib.Dataset.from_list(rows) for name, rows in splits.items()}).save_to_disk(source)
    else:
        source.mkdir()
        for name, rows in splits.items():
            (source / f"{name}.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    out = tmp_path / "out"
    assert main(["prepare", "--task", task, "--source", str(source), "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    train, test = _written(out)
    assert (len(train), len(test)) == EXPECTED_SIZES[task]
    assert (train, test) == _expected(task, splits)
    for name in ("train", "test"):
        examples = read_chat_jsonl(out / f"{name}.jsonl").examples  # what stp train and stp eval read
        assert all(example.system for example in examples)
        assert all((example.text is not None) == (task == "hellaswag") for example in examples)


def test_prepare_spider_original_split_and_a_parquet_folder(datasets_lib, tmp_path):
    splits = _public_splits("spider")
    source = tmp_path / "spider"
    source.mkdir()
    for name, rows in splits.items():
        datasets_lib.Dataset.from_list(rows).to_parquet(source / f"{name}.parquet")
    assert main(["prepare", "--task", "spider", "--source", str(source), "--output-dir", str(tmp_path / "o"), "--split", "original"]) == 0
    train, test = _written(tmp_path / "o")
    assert [line["messages"][1]["content"] for line in test] == [
        f"For db_id:[{row['db_id']}]\n\n{row['question']}" for row in splits["validation"]
    ]
    assert len(train) == 20


def _write_nlrx_release(folder, pairs):
    folder.mkdir(parents=True)
    (folder / "src.txt").write_text("\n".join(src for src, _ in pairs))  # the release's files end without a newline
    (folder / "targ.txt").write_text("\n".join(targ for _, targ in pairs))


def test_prepare_nlrx_from_the_release_folder_or_repository_root(datasets_lib, tmp_path):
    rows = made_up_rows("turk", 10)
    _write_nlrx_release(tmp_path / "deep-regex" / "datasets" / "NL-RX-Turk", [(row["src"], row["targ"]) for row in rows])
    for source in (tmp_path / "deep-regex", tmp_path / "deep-regex" / "datasets" / "NL-RX-Turk"):
        out = tmp_path / "out" / source.name
        assert main(["prepare", "--task", "turk", "--source", str(source), "--out", str(out)]) == 0
        train, test = _written(out)
        assert (len(train), len(test)) == (8, 2)
        assert sorted(line["messages"][1]["content"] for line in train + test) == sorted(row["src"] for row in rows)
    single = tmp_path / "pool.jsonl"  # a data file with src/targ columns is one pool too
    single.write_text("".join(json.dumps(row) + "\n" for row in rows))
    assert main(["prepare", "--task", "turk", "--source", str(single), "--out", str(tmp_path / "f")]) == 0
    assert _written(tmp_path / "f") == _written(tmp_path / "out" / "deep-regex")


def test_prepare_synth_rebuilds_the_papers_files_byte_for_byte(datasets_lib, tmp_path):
    """The paper's synth files put back into the release's line order (train_test_split's
    permutation undone) and prepared again: the same bytes, train and test."""
    from tests.data.public_rows import NLRX_SYNTH

    if not (NLRX_SYNTH / "train.jsonl").is_file():
        pytest.skip("the paper's NL-RX-SYNTH files (/work/shared/data/nl-rx-synth) are not on this machine")
    lines = {name: (NLRX_SYNTH / f"{name}.jsonl").read_text().splitlines() for name in ("train", "test")}
    pooled = lines["test"] + lines["train"]  # train_test_split lists the test rows first in its permutation
    train_index, test_index = split_indices(len(pooled), 0.2, 42)
    release = [None] * len(pooled)
    for position, index in enumerate(test_index + train_index):
        messages = json.loads(pooled[position])["messages"]
        release[index] = (messages[1]["content"], messages[2]["content"])
    _write_nlrx_release(tmp_path / "NL-RX-Synth", release)
    assert main(["prepare", "--task", "synth", "--source", str(tmp_path / "NL-RX-Synth"), "--out", str(tmp_path / "o")]) == 0
    for name in ("train", "test"):
        assert (tmp_path / "o" / f"{name}.jsonl").read_bytes() == (NLRX_SYNTH / f"{name}.jsonl").read_bytes(), name


def test_prepare_offline_tells_the_user_to_pass_source(datasets_lib, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(datasets_lib.config, "HF_HUB_OFFLINE", True)  # what HF_HUB_OFFLINE=1 sets; no network is tried
    assert main(["prepare", "--task", "gsm8k", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "cannot reach the Hugging Face Hub for 'openai/gsm8k'" in err and "pass --source" in err
    assert main(["prepare", "--task", "synth", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "NL-RX is not on the Hugging Face Hub" in err and "--source" in err and "deep-regex" in err
    assert not (tmp_path / "o").exists()


def test_prepare_bad_row_missing_column_and_missing_split_write_nothing(datasets_lib, tmp_path, capsys):
    splits = _public_splits("nq_open")
    splits["validation"][1] = {**splits["validation"][1], "answer": []}
    source = tmp_path / "nq"
    datasets_lib.DatasetDict({name: datasets_lib.Dataset.from_list(rows) for name, rows in splits.items()}).save_to_disk(source)
    out = tmp_path / "o"
    assert main(["prepare", "--task", "nq_open", "--source", str(source), "--out", str(out)]) == 2
    assert "stp data prepare: nq_open validation split, row 1: answer: expected a non-empty list" in capsys.readouterr().err
    assert not out.exists()
    renamed = tmp_path / "renamed"
    datasets_lib.DatasetDict({"train": datasets_lib.Dataset.from_list([{"q": "x", "answer": "y"}])}).save_to_disk(renamed)
    assert main(["prepare", "--task", "gsm8k", "--source", str(renamed), "--out", str(out)]) == 2
    assert "gsm8k train split: no column 'question' (it has: q, answer)" in capsys.readouterr().err
    only_train = tmp_path / "only_train.jsonl"
    only_train.write_text(json.dumps(made_up_rows("gsm8k", 1)[0]) + "\n")
    assert main(["prepare", "--task", "gsm8k", "--source", str(only_train), "--out", str(out)]) == 2
    assert "no 'train' split (it has: all)" in capsys.readouterr().err
    assert main(["prepare", "--task", "gsm8k", "--source", str(tmp_path / "missing dir" / "x"), "--out", str(out)]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("out_flag", ["--out", "--output_dir", "--output-dir"])
def test_prepare_options(out_flag):
    args = build_parser().parse_args(["prepare", "--task", "spider", out_flag, "d"])
    assert (args.task, args.output_dir, args.source, args.split, args.subset) == ("spider", Path("d"), None, "paper", None)
