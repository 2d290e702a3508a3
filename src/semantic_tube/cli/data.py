"""`stp data`: generate a synthetic NL-RX and inspect data files.

    stp data nlrx --output_dir data/nlrx [--nlrx_examples 2500] [--nlrx_seed 0] [--test_fraction 0.2]
        [--stats] [--reference FILE]
    stp data stats FILE [--reference FILE] [--model_name_or_path DIR] [--max_length N] [--chat_template_kwargs JSON]
    stp data leakage FILE_A FILE_B
    stp data prepare --task gsm8k|spider|nq_open|hellaswag|synth|turk --output_dir DIR
        [--source PATH_OR_HUB_ID] [--split paper|original] [--subset NAME]

`prepare` writes the paper's train.jsonl / test.jsonl for a task from the public data set (the
Hugging Face Hub, or a local copy given by --source; NL-RX is not on the Hub and needs --source);
the field mapping and the splits are in `semantic_tube.data.prepare`.

`--nlrx_examples` and `--nlrx_seed` are `stp train`'s fields of the same name, with their defaults:
what it generates when given no train_file (their older spellings `--n` and `--seed` still work).
Multi-word options take dashes or underscores (`--test-fraction` is `--test_fraction`), as
`stp train` does.

Exit status: 0 on success; 1 when the grammar cannot give --nlrx_examples distinct examples, or when
`leakage` finds strings in both files (like `diff`); 2 for bad arguments or a malformed or
missing data file (the error names the file and line), or a source `prepare` cannot use (a bad
row is named by split, row index and field; nothing is written).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from semantic_tube.cli.options import add_option
from semantic_tube.data.messages import ChatExample, DataError, read_chat_jsonl
from semantic_tube.data.nlrx import (
    DEFAULT_EXAMPLES,
    DEFAULT_SEED,
    GrammarExhausted,
    GrammarLimits,
    dataset_stats,
    find_leakage,
    format_stats,
    write_nlrx,
)


def _fraction(text: str) -> float:
    """argparse type for --test_fraction: a number strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (exclusive), got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stp data", description="Generate or inspect data sets.")
    commands = parser.add_subparsers(dest="command", required=True)
    _add_nlrx(commands.add_parser("nlrx", help="generate a synthetic NL-RX train/test split"))
    _add_stats(
        commands.add_parser(
            "stats", help="rows, exchanges and content per role (tokens, rows cut, STP's reach with --model); NL-RX operators and lengths"
        )
    )
    _add_leakage(commands.add_parser("leakage", help="descriptions and regexes found in both files"))
    _add_prepare(commands.add_parser("prepare", help="the paper's data files for a task, from the public data set"))
    return parser


def _add_nlrx(nlrx: argparse.ArgumentParser) -> None:
    add_option(
        nlrx,
        "--nlrx_examples",
        "--n",  # its older name, kept so old commands still work
        type=int,
        default=DEFAULT_EXAMPLES,
        metavar="N",
        help="number of examples, train and test together (default: %(default)s, as stp train generates)",
    )
    add_option(
        nlrx,
        "--nlrx_seed",
        "--seed",  # its older name (stp train's --seed is the training seed)
        type=int,
        default=DEFAULT_SEED,
        metavar="SEED",
        help="seed of the generator (default: %(default)s, as stp train)",
    )
    add_option(
        nlrx,
        "--output_dir",
        "--out",  # its older name, kept so old commands still work
        type=Path,
        required=True,
        metavar="DIR",
        help="folder for train.jsonl and test.jsonl (required, no default)",
    )
    add_option(
        nlrx,
        "--test_fraction",
        type=_fraction,
        default=0.2,
        metavar="F",
        help="share of examples in test (default: %(default)s)",
    )
    add_option(
        nlrx,
        "--max_depth",
        type=int,
        default=GrammarLimits.max_depth,
        metavar="D",
        help="operator levels per tree (default: %(default)s)",
    )
    nlrx.add_argument("--stats", action="store_true", help="print a report on the generated examples (default: off)")
    nlrx.add_argument(
        "--reference",
        type=Path,
        metavar="FILE",
        help="a real data file to report beside (implies --stats; default: none)",
    )


def _add_stats(stats: argparse.ArgumentParser) -> None:
    stats.add_argument("file", type=Path, metavar="FILE", help="JSONL data file to describe (any row form stp train reads)")
    stats.add_argument(
        "--reference", type=Path, metavar="FILE", help="a second file to report beside the first (default: none)"
    )
    add_option(
        stats,
        "--model_name_or_path",
        "--model",
        metavar="PATH",
        help="a model or tokenizer, as stp train's (a folder or a Hugging Face id): count tokens per role, rows cut and the share STP "
        "can reach (default: characters only)",
    )
    add_option(stats, "--max_length", type=int, metavar="N", help="as stp train's: count the rows it cuts (default: none)")
    add_option(
        stats, "--chat_template_kwargs", type=json.loads, metavar="JSON", help="as stp train's, for the template (default: none)"
    )


def _add_leakage(leakage: argparse.ArgumentParser) -> None:
    leakage.add_argument("file_a", type=Path, metavar="FILE_A", help="first chat JSONL file")
    leakage.add_argument("file_b", type=Path, metavar="FILE_B", help="second chat JSONL file")
    leakage.add_argument(
        "--show", type=int, default=10, metavar="K", help="shared strings to list per kind (default: %(default)s)"
    )


def _add_prepare(prepare: argparse.ArgumentParser) -> None:
    from semantic_tube.data.prepare import SOURCES, SPLIT_MODES

    prepare.add_argument("--task", required=True, choices=list(SOURCES), help="the paper's task (required)")
    add_option(
        prepare,
        "--output_dir",
        "--out",
        type=Path,
        required=True,
        metavar="DIR",
        help="folder for train.jsonl and test.jsonl (required, no default)",
    )
    prepare.add_argument(
        "--source",
        metavar="PATH_OR_HUB_ID",
        help="a Hub id, or a local copy: a save_to_disk folder, a folder or file of JSON/JSONL/Parquet/CSV that "
        "datasets.load_dataset reads, or for synth/turk the NL-RX release's folder (src.txt, targ.txt) "
        "(default: the task's Hub id; synth/turk have none and need it)",
    )
    prepare.add_argument(
        "--split",
        choices=SPLIT_MODES,
        default="paper",
        help="paper: the splits the paper's files use (Spider and NL-RX re-split as the paper did); original: the "
        "data set's own train and test/validation splits (default: %(default)s)",
    )
    prepare.add_argument(
        "--subset", metavar="NAME", help="the data set's configuration (default: the task's, e.g. main for gsm8k)"
    )


def _read(path: Path) -> list[ChatExample]:
    return read_chat_jsonl(path).examples


def _read_reference(args: argparse.Namespace) -> tuple[list[ChatExample] | None, str]:
    """The --reference examples and the file's name, read first so a bad file stops early."""
    return (_read(args.reference), args.reference.name) if args.reference else (None, "")


def _print_stats(examples: list[ChatExample], name: str, reference: tuple[list[ChatExample] | None, str]) -> None:
    ref_examples, ref_name = reference
    ref_examples = [example for example in ref_examples or () if isinstance(example, ChatExample)]  # plain text has no regex
    ref_stats = dataset_stats(ref_examples) if ref_examples else None
    print(format_stats(dataset_stats(examples), ref_stats, (name, ref_name)))


def _nlrx(args: argparse.Namespace) -> int:
    limits = GrammarLimits(max_depth=args.max_depth)
    reference = _read_reference(args)
    train_path, test_path = write_nlrx(args.output_dir, args.nlrx_examples, args.nlrx_seed, args.test_fraction, limits=limits)
    print(f"wrote {train_path} and {test_path}")
    if args.stats or args.reference:
        _print_stats(_read(train_path) + _read(test_path), "generated", reference)
    return 0


def _stats(args: argparse.Namespace) -> int:
    from semantic_tube.data.conversation_stats import conversation_stats, format_conversation_stats

    if args.max_length and not args.model_name_or_path:
        raise ValueError("--max_length counts the rows training cuts in tokens: it needs --model_name_or_path (a tokenizer)")
    reference = _read_reference(args)
    examples = _read(args.file)
    chat = [example for example in examples if isinstance(example, ChatExample)]
    if chat:
        _print_stats(chat, args.file.name, reference)
    tokenizer = None
    if args.model_name_or_path:
        from semantic_tube.training.model import load_tokenizer

        tokenizer = load_tokenizer(args.model_name_or_path)
    stats = conversation_stats(examples, tokenizer, max_length=args.max_length, template_kwargs=args.chat_template_kwargs)
    print(format_conversation_stats(stats))
    return 0


def _leakage(args: argparse.Namespace) -> int:
    leakage = find_leakage(_read(args.file_a), _read(args.file_b))
    print(leakage.format(limit=args.show))
    return 1 if leakage else 0


def _prepare(args: argparse.Namespace) -> int:
    from semantic_tube.data.prepare import load_source, prepare, split_summary, write_records

    train, test = prepare(args.task, load_source(args.task, args.source, args.subset), args.split)
    paths = [write_records(args.output_dir / f"{name}.jsonl", records) for name, records in (("train", train), ("test", test))]
    print(f"wrote {paths[0]} ({len(train)} lines) and {paths[1]} ({len(test)} lines): {split_summary(args.task, args.split)}")
    return 0


def main(argv: list[str]) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:  # argparse exits on --help and on bad arguments
        return int(exit_.code or 0)
    run = {"nlrx": _nlrx, "stats": _stats, "leakage": _leakage, "prepare": _prepare}[args.command]
    try:
        return run(args)
    except GrammarExhausted as err:
        print(f"stp data nlrx: --nlrx_examples {args.nlrx_examples} is too many: {err}; nothing written", file=sys.stderr)
        return 1
    except (DataError, FileNotFoundError, ValueError) as err:
        print(f"stp data {args.command}: {err}", file=sys.stderr)
        return 2
