"""Option spelling shared by the commands (cli/options.py): each name with underscores and dashes,
older spellings as aliases of the field's option, required fields, and every default shown."""

import argparse
from dataclasses import dataclass, field
from enum import Enum

import pytest

from semantic_tube.cli import evaluate, score
from semantic_tube.cli.options import HelpFormatter, add_aliases, add_option, dataclass_parser, require, show_defaults
from semantic_tube.evaluation.tasks import TASKS


@pytest.mark.parametrize("command", ["eval", "score"])
def test_every_option_says_its_default_takes_both_spellings_and_task_lists_its_choices(command, capsys):

    parser = {"eval": evaluate, "score": score}[command].build_parser()
    for action in parser._actions:
        if action.option_strings != ["-h", "--help"]:
            assert any(words in action.help for words in ("default", "required", "empty =")), action.option_strings
            assert all(name.replace("_", "-") in action.option_strings for name in action.option_strings)
    assert {"eval": evaluate, "score": score}[command].main(["--help"]) == 0
    assert "{" + ",".join(TASKS) + "}" in capsys.readouterr().out



def test_add_option_takes_both_spellings_of_every_name_and_the_first_is_the_dest():
    parser = argparse.ArgumentParser()
    add_option(parser, "--output_dir", "--out", "--output_dir")
    (action,) = [action for action in parser._actions if action.dest == "output_dir"]
    assert action.option_strings == ["--output_dir", "--output-dir", "--out"]  # each once, in order
    assert parser.parse_args(["--output-dir", "d"]).output_dir == "d" and parser.parse_args(["--out", "e"]).output_dir == "e"


class Colour(str, Enum):
    RED = "red"


@dataclass
class Fields:
    task_name: str | None = field(default=None, metadata={"help": "the task"})
    colour: Colour = field(default=Colour.RED, metadata={"help": "a colour"})
    empty_field: str | None = field(default=None, metadata={"help": "x; empty = all"})
    count: int = field(default=3, metadata={"help": "how many (default: three)"})


def test_a_dataclass_parser_adds_aliases_requires_and_shows_every_default(capsys):
    parser = dataclass_parser("stp x", (Fields,), description="d", aliases={"task_name": ("--task",)}, required=("task_name",))
    (parsed,) = parser.parse_args_into_dataclasses(["--task", "t", "--colour", "red"])
    assert parsed.task_name == "t" and parsed.colour == Colour.RED and parsed.count == 3
    helps = {action.dest: action.help for action in parser._actions}
    assert helps["task_name"] == "the task (required)" and helps["colour"] == "a colour (default: %(default)s)"
    assert helps["empty_field"] == "x; empty = all" and helps["count"] == "how many (default: three)"  # they say it already
    assert parser.get_default("colour") == "red"  # as typed, not Colour.RED
    with pytest.raises(SystemExit):
        parser.parse_args_into_dataclasses(["--colour", "red"])
    assert "the following arguments are required: --task_name" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # no abbreviations: --tas is not --task
        parser.parse_args_into_dataclasses(["--tas", "t"])


def test_an_alias_that_is_already_an_option_is_refused():
    parser = argparse.ArgumentParser(prog="stp y")
    add_option(parser, "--output_dir")
    add_option(parser, "--data")
    with pytest.raises(ValueError, match="stp y: alias --data of --output_dir is already an option"):
        add_aliases(parser, {"output_dir": ("--data",)})


def test_an_unset_default_reads_none_and_a_no_twin_points_at_its_option():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=None, help="the model")
    parser.add_argument("--flag", default=True, help="on")
    parser.add_argument("--no_flag", dest="flag", action="store_false", help="off")
    parser.add_argument("--must", help="needed")
    require(parser, "must")
    show_defaults(parser)
    helps = {action.option_strings[0]: action.help for action in parser._actions}
    assert helps["--model"] == "the model (default: none)" and helps["--flag"] == "on (default: %(default)s)"
    assert helps["--no_flag"] == "same as --flag false" and helps["--must"] == "needed (required)"


def test_help_lists_each_spelling_once_and_the_value_after_the_last():
    parser = argparse.ArgumentParser(prog="p", formatter_class=HelpFormatter)
    add_option(parser, "--eval_task_file", "--data", help="h")
    add_option(parser, "--overwrite", action="store_true", help="o")
    text = parser.format_help()
    assert "--eval_task_file, --eval-task-file, --data EVAL_TASK_FILE" in text
    assert "--overwrite" in text and "--overwrite OVERWRITE" not in text
