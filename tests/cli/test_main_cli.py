"""The `stp` dispatcher itself (--version, --help, unknown commands) and option conventions shared by sub-commands."""

import argparse
import subprocess
import sys

import pytest

import semantic_tube
from semantic_tube.cli import data, main, regex


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version_names_the_command_distribution_and_version(flag, capsys):
    assert main([flag]) == 0
    assert capsys.readouterr().out == f"stp (semantic-tube) {semantic_tube.__version__}\n"


def test_version_does_not_import_torch():
    """A fresh interpreter, since this test process may have loaded torch for other tests already."""
    script = "import sys; from semantic_tube.cli import main; main(['--version']); print('torch' in sys.modules)"
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert (completed.returncode, completed.stdout.splitlines()[-1]) == (0, "False"), completed.stderr


def test_help_lists_version_and_every_command(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "-V, --version" in out
    assert all(f"  {name} " in out for name in ("train", "eval", "score", "data", "regex"))


def test_no_arguments_prints_usage_and_exits_2(capsys):
    assert main([]) == 2
    assert capsys.readouterr().out.startswith("usage: stp")


def test_unknown_command_is_named_on_stderr(capsys):
    assert main(["trian"]) == 2
    assert "unknown command 'trian'" in capsys.readouterr().err


def _subcommand_arguments(parser: argparse.ArgumentParser):
    """(sub-command, argument) for every argument of every sub-command, --help left out."""
    (subcommands,) = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    for name, subparser in subcommands.choices.items():
        for action in subparser._actions:
            if not isinstance(action, argparse._HelpAction):
                yield name, action


@pytest.mark.parametrize("build_parser", [data.build_parser, regex.build_parser], ids=["data", "regex"])
def test_every_argument_is_documented_and_multi_word_options_take_both_spellings(build_parser):
    """Options show their default (or say they are required); `--a_b` also answers to `--a-b`, as in stp train."""
    for subcommand, action in _subcommand_arguments(build_parser()):
        where = f"{subcommand} {action.dest}"
        assert action.help, f"{where} has no help"
        if action.option_strings:
            assert "default" in action.help or action.required, f"{where} does not show its default"
        for name in action.option_strings:
            assert name.replace("_", "-") in action.option_strings, f"{where}: {name} lacks its dashed twin"
