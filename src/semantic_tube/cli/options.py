"""Option spelling shared by the commands: one name per concept.

A command's options are dataclass fields parsed by `HfArgumentParser`, as `stp train` parses its
own, so a concept has the field's name as its flag in every command (`--eval_task_file` in
`stp train` and `stp eval`, `--output_dir` wherever something is written). A spelling users were
given before (`stp eval --data`, `stp sweep --out`) stays as an alias of that flag, listed in the
command's `ALIASES`; every multi-word name also takes dashes (`--output-dir`).
"""

from __future__ import annotations

import argparse
from enum import Enum


def add_option(parser: argparse.ArgumentParser, *names: str, **settings) -> None:
    """An option under each name, each multi-word name spelt with underscores and with dashes
    (`--output_dir`, `--output-dir`), as `stp train` accepts them; the first name is the dest."""
    spellings = [spelling for name in names for spelling in (name, name.replace("_", "-"))]
    parser.add_argument(*dict.fromkeys(spellings), **settings)


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions as written; an option's spellings listed once, its value after the last
    (`--eval_task_file, --eval-task-file, --data EVAL_TASK_FILE`)."""

    def _format_action_invocation(self, action):
        if not action.option_strings or action.nargs == 0:
            return super()._format_action_invocation(action)
        value = self._format_args(action, self._get_default_metavar_for_optional(action))
        return f"{', '.join(action.option_strings)} {value}"


def dataclass_parser(
    prog: str, classes: tuple, *, description: str, aliases: dict[str, tuple[str, ...]], required: tuple[str, ...] = (), **settings
):
    """An `HfArgumentParser` of `classes` (each field `--field`, `--fi-eld`), the older spellings of
    `aliases` (field -> names) added to their field's option, the fields in `required` required
    although they have a default (`eval_task`, optional in `stp train`), every default shown as typed.

    transformers is imported here, not at the top: `stp --version` and `stp regex` never load it.
    """
    from transformers import HfArgumentParser

    parser = HfArgumentParser(classes, prog=prog, description=description, formatter_class=HelpFormatter, allow_abbrev=False, **settings)
    add_aliases(parser, aliases)
    require(parser, *required)
    show_defaults(parser)
    return parser


def parse_with_overrides(parser, argv: list[str]) -> tuple[object, dict]:
    """A dataclass parser's one set of options, and the `--field value` pairs it does not know:
    `stp train` fields for every run (`stp sweep`, `stp tune`)."""
    from semantic_tube.experiments.grid import parse_overrides

    args, rest = parser.parse_args_into_dataclasses(args=argv, return_remaining_strings=True)
    return args, parse_overrides(rest)


def add_aliases(parser: argparse.ArgumentParser, aliases: dict[str, tuple[str, ...]]) -> None:
    """Each field's older names as more option strings of its own option (with dashes too)."""
    actions = {action.dest: action for action in parser._actions if action.option_strings}
    for dest, names in aliases.items():
        action = actions[dest]
        for spelling in dict.fromkeys(spelling for name in names for spelling in (name, name.replace("_", "-"))):
            if spelling in parser._option_string_actions:
                raise ValueError(f"{parser.prog}: alias {spelling} of --{dest} is already an option")
            action.option_strings.append(spelling)
            parser._option_string_actions[spelling] = action


def require(parser: argparse.ArgumentParser, *dests: str) -> None:
    """Options a command cannot run without although their fields have a default (`eval_task`)."""
    for action in parser._actions:
        if action.dest in dests and action.option_strings:
            action.required = True
            action.help = f"{action.help} (required)"


def show_defaults(parser: argparse.ArgumentParser) -> None:
    """An enum's default as typed (`auto`, not `ModelDtype.AUTO`) and `(default: ...)` after every
    help that does not say its default already (`empty = ...` says it for an unset field)."""
    for action in parser._actions:
        if isinstance(action.default, Enum):
            action.default = action.default.value  # argparse converts it back
        if not action.option_strings or action.help in (None, argparse.SUPPRESS) or action.required or action.default is argparse.SUPPRESS:
            continue
        if action.option_strings[0].startswith("--no_"):
            action.help = f"same as --{action.dest} false"
        elif action.default is None and "default" not in action.help and "empty =" not in action.help:
            action.help += " (default: none)"
        elif action.default is not None and "default" not in action.help:
            action.help += " (default: %(default)s)"
