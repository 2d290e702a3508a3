"""One name per concept: the same thing has the same flag in every `stp` command.

A command's option is named after its field (`--eval_task_file`), so a concept that several
commands take (the task, its data, the output folder, the model's dtype) is one dest with one
flag; an older spelling is an alias listed in the command's ALIASES, nowhere else."""

import argparse

import pytest

from semantic_tube.cli import data, evaluate, regex, report, score, sweep, tune
from semantic_tube.evaluation.arguments import TaskGenerationArguments, TaskScoringArguments
from semantic_tube.training.arguments import make_parser as train_parser


def _subcommands(name, parser):
    (subparsers,) = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    return {f"{name} {sub}": subparser for sub, subparser in subparsers.choices.items()}


PARSERS = {
    "train": train_parser(),
    "eval": evaluate.build_parser(),
    "score": score.build_parser(),
    "sweep": sweep.build_parser(),
    "tune": tune.build_parser(),
    "report": report.build_parser(),
    **_subcommands("data", data.build_parser()),
    **_subcommands("regex", regex.build_parser()),
}
ALIASES = {"eval": evaluate.ALIASES, "score": score.ALIASES, "sweep": sweep.ALIASES, "tune": tune.ALIASES}
SCORING = [field for field in TaskScoringArguments.__dataclass_fields__]
GENERATION = [field for field in TaskGenerationArguments.__dataclass_fields__ if field not in SCORING]
# Concept (field) -> the commands that take it: each must spell it --<field>.
SHARED = {
    **{field: ("train", "eval", "score") for field in SCORING},
    **{field: ("train", "eval") for field in GENERATION},
    "model_name_or_path": ("train", "eval"),
    "dtype": ("train", "eval"),
    "output_dir": ("train", "eval", "sweep", "tune", "report", "data nlrx", "data prepare"),
    "train_fraction": ("train", "tune"),
    "nlrx_examples": ("train", "data nlrx"),
    "nlrx_seed": ("train", "data nlrx"),
    "config": ("train", "tune"),  # a `stp train` preset (stp sweep's --config is a sweep file)
}
# Older spellings that are another command's name for another concept, kept because users typed them.
OLDER_SPELLINGS_ELSEWHERE = {
    "--task": "stp eval / stp score's old name of eval_task; stp data prepare's --task is the data set to prepare",
    "--eval_file": "stp eval's old name of eval_task_file; stp train's eval_file is the held-out file of the eval loss",
    "--seed": "stp data nlrx's old name of nlrx_seed; stp train's seed is the training seed",
}


def options(parser) -> dict[str, str]:
    """Every spelling (dashes read as underscores) -> its dest; help and --no_ twins left out."""
    spellings = {}
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction) or not action.option_strings:
            continue
        for spelling in action.option_strings:
            spelling = "--" + spelling[2:].replace("-", "_")
            if not spelling.startswith("--no_"):
                spellings[spelling] = action.dest
    return spellings


def test_every_option_is_spelt_as_its_field_with_dashes_too():
    for command, parser in PARSERS.items():
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction) or not action.option_strings or action.option_strings[0].startswith("--no_"):
                continue
            assert f"--{action.dest}" in action.option_strings, (command, action.option_strings)
            for spelling in action.option_strings:
                assert spelling.replace("_", "-") in action.option_strings, (command, spelling)


@pytest.mark.parametrize("field", list(SHARED))
def test_a_concept_has_the_same_flag_in_every_command_that_takes_it(field):
    for command in SHARED[field]:
        assert options(PARSERS[command]).get(f"--{field}") == field, (command, field)


def test_a_flag_names_one_concept_across_commands_but_for_the_older_spellings_kept():
    meanings: dict[str, set[str]] = {}
    for parser in PARSERS.values():
        for spelling, dest in options(parser).items():
            meanings.setdefault(spelling, set()).add(dest)
    ambiguous = {spelling for spelling, dests in meanings.items() if len(dests) > 1}
    assert ambiguous == set(OLDER_SPELLINGS_ELSEWHERE)


def test_every_other_spelling_is_a_listed_older_one():
    """A spelling besides --<field> (and its dashed twin) is in the command's ALIASES, as an alias of that field."""
    for command, parser in PARSERS.items():
        listed = {"--" + name[2:].replace("-", "_"): dest for dest, names in ALIASES.get(command, {}).items() for name in names}
        for spelling, dest in options(parser).items():
            if spelling != f"--{dest}":
                if command.startswith("data") or command == "report":  # argparse commands: the older name sits beside its flag
                    continue
                assert listed.get(spelling) == dest, (command, spelling, dest)
        for spelling, dest in listed.items():
            assert options(parser)[spelling] == dest, (command, spelling)


def test_stp_eval_and_stp_score_take_the_task_evaluation_fields_of_stp_train():
    train, evaluation, scoring = (options(PARSERS[name]) for name in ("train", "eval", "score"))
    assert {f"--{field}" for field in SCORING} <= set(scoring) & set(evaluation) & set(train)
    assert {f"--{field}" for field in GENERATION} <= set(evaluation) & set(train)
    for field in ("eval_sql_timeout", "eval_regex_timeout"):  # the time limits, once only in stp eval
        defaults = {name: PARSERS[name].get_default(field) for name in ("train", "eval", "score")}
        assert len(set(defaults.values())) == 1, defaults


@pytest.mark.parametrize(
    ("command", "argv", "field", "value"),
    [
        ("eval", ["--task", "synth", "--data", "t.jsonl"], "eval_task_file", "t.jsonl"),
        ("eval", ["--task", "synth", "--eval_file", "t.jsonl"], "eval_task_file", "t.jsonl"),
        ("eval", ["--task", "synth", "--limit", "5"], "eval_task_limit", 5),
        ("eval", ["--task", "spider", "--db_dir", "db"], "eval_db_dir", "db"),
        ("eval", ["--task", "synth", "--model", "m"], "model_name_or_path", "m"),
        ("score", ["--task", "spider", "--db-dir", "db", "--predictions", "p"], "eval_db_dir", "db"),
        ("score", ["--task", "synth", "--sql_timeout", "3", "--predictions", "p"], "eval_sql_timeout", 3.0),
        ("sweep", ["--config", "s.yaml", "--out", "o"], "output_dir", "o"),
        ("tune", ["--config", "c.yaml", "--out", "o"], "output_dir", "o"),
        ("tune", ["--config", "c.yaml", "--fraction", "0.5"], "train_fraction", 0.5),
    ],
)
def test_the_older_spellings_users_were_given_still_work(command, argv, field, value):
    parsed = PARSERS[command].parse_known_args(argv)[0]
    assert getattr(parsed, field) == value
