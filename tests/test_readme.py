"""The README's code cannot drift: its Python blocks run (on a tiny model), and every `stp`
command in its shell blocks parses with the options it names."""

import importlib
import re
import shlex
from pathlib import Path

import pytest

from tests.tiny_models import save_tiny

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
MODEL_LINE = "model_name_or_path = None"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def test_python_blocks_run_in_order_on_a_tiny_model(tmp_path, monkeypatch, capsys):
    """Run as a reader would, top to bottom in one session; the embedded model is swapped for a
    tiny one (the only change), everything else is the README's text."""
    tiny = save_tiny(tmp_path / "tiny", "chatml", seed=0)
    monkeypatch.chdir(tmp_path)
    code = blocks("python")
    assert len(code) >= 3 and sum(MODEL_LINE in block for block in code) == 1
    namespace: dict = {}
    for number, block in enumerate(code):
        exec(compile(block.replace(MODEL_LINE, f"model_name_or_path = {str(tiny)!r}"), f"README.md python block {number}", "exec"), namespace)
    printed = capsys.readouterr().out
    assert "STP = " in printed and "task synth: 16 examples" in printed
    assert (tmp_path / "runs" / "demo" / "metrics.json").is_file()


def stp_commands() -> list[list[str]]:
    """Each `stp ...` line of the bash blocks (continuations joined, $seed set), as argv."""
    commands = []
    for block in blocks("bash"):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.strip().replace("$seed", "82")
            if line.startswith("stp ") or " && stp " in line:
                commands.append(shlex.split(line[line.index("stp ") :], comments=True)[1:])
    return commands


PARSERS = {
    "report": "semantic_tube.cli.report",
    "tune": "semantic_tube.cli.tune",
    "eval": "semantic_tube.cli.evaluate",
    "score": "semantic_tube.cli.score",
    "data": "semantic_tube.cli.data",
    "regex": "semantic_tube.cli.regex",
}


@pytest.mark.parametrize("argv", stp_commands(), ids=lambda argv: " ".join(argv)[:60])
def test_shell_commands_parse(argv, monkeypatch):
    monkeypatch.chdir(Path(__file__).resolve().parents[1])  # presets are named from the repository root
    command, rest = argv[0], argv[1:]
    if command == "train":
        from semantic_tube.training.arguments import parse_train_args

        parse_train_args(rest)
    elif command == "--version":
        return
    elif command == "sweep":
        from semantic_tube.cli.sweep import parse_args

        parse_args(rest)
    else:
        importlib.import_module(PARSERS[command]).build_parser().parse_args(rest)
