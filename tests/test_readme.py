"""The README's and the docs pages' code cannot drift: their Python blocks run (on a tiny model),
every `stp` command in their shell blocks parses with the options it names, and their links point
at files a user has (never `../shared`)."""

import importlib
import re
import shlex
from pathlib import Path

import pytest

from tests.tiny_models import save_tiny

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES = sorted((ROOT / "docs").rglob("*.md"))
DOCUMENTS = [README, ROOT / "ARCHITECTURE.md", *PAGES]
MODEL_LINE = "model_name_or_path = None"
# The two set-up commands the README opens with, exactly as CI (.ci/run) runs them.
SETUP_COMMANDS = [
    "bash scripts/install.sh && stp train --config configs/smollm2_nlrx.yaml",
    "bash scripts/install.sh && python3 -m pytest -q",
]
# What a page's Python prints, beyond running without error.
PRINTED = {
    "README.md": ["STP = ", " = ntp "],
    "docs/python.md": ["STP = ", "task synth: 16 examples"],
    "docs/evaluation.md": ["equivalent different 'a'"],
}


def name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def blocks(path: Path, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", path.read_text(), flags=re.S)


def run_python_blocks(path: Path, tmp_path: Path, monkeypatch, capsys) -> str:
    """Run a file's Python blocks as a reader would, top to bottom in one session; the embedded
    model is swapped for a tiny one (the only change), everything else is the file's text."""
    tiny = save_tiny(tmp_path / "tiny", "chatml", seed=0)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for number, block in enumerate(blocks(path, "python")):
        code = block.replace(MODEL_LINE, f"model_name_or_path = {str(tiny)!r}")
        exec(compile(code, f"{name(path)} python block {number}", "exec"), namespace)
    return capsys.readouterr().out


def test_readme_python_blocks_run_in_order_on_a_tiny_model(tmp_path, monkeypatch, capsys):
    code = blocks(README, "python")
    assert len(code) >= 3 and sum(MODEL_LINE in block for block in code) == 1
    printed = run_python_blocks(README, tmp_path, monkeypatch, capsys)
    assert all(text in printed for text in PRINTED["README.md"]), printed
    assert (tmp_path / "runs" / "demo" / "metrics.json").is_file()


@pytest.mark.parametrize("page", [page for page in PAGES if blocks(page, "python")], ids=name)
def test_docs_python_blocks_run_in_order_on_a_tiny_model(page, tmp_path, monkeypatch, capsys):
    assert sum(MODEL_LINE in block for block in blocks(page, "python")) <= 1
    printed = run_python_blocks(page, tmp_path, monkeypatch, capsys)
    assert all(text in printed for text in PRINTED.get(name(page), [])), printed


def stp_commands() -> list[tuple[str, list[str]]]:
    """Each `stp ...` line of the bash blocks of every document (continuations joined, $seed set), as argv."""
    commands = []
    for path in DOCUMENTS:
        for block in blocks(path, "bash"):
            for line in block.replace("\\\n", " ").splitlines():
                line = line.strip().replace("$seed", "82")
                if line.startswith("stp ") or " && stp " in line:
                    commands.append((name(path), shlex.split(line[line.index("stp ") :], comments=True)[1:]))
    return commands


PARSERS = {
    "sweep": "semantic_tube.cli.sweep",
    "report": "semantic_tube.cli.report",
    "tune": "semantic_tube.cli.tune",
    "eval": "semantic_tube.cli.evaluate",
    "score": "semantic_tube.cli.score",
    "data": "semantic_tube.cli.data",
    "regex": "semantic_tube.cli.regex",
}


@pytest.mark.parametrize("where, argv", stp_commands(), ids=lambda value: " ".join(value)[:60] if isinstance(value, list) else value)
def test_shell_commands_parse(where, argv, monkeypatch):
    monkeypatch.chdir(ROOT)  # presets are named from the repository root
    command, rest = argv[0], argv[1:]
    if command == "train":
        from semantic_tube.training.arguments import parse_train_args

        parse_train_args(rest)
    elif command == "--version":
        return
    elif command in ("sweep", "tune"):  # their own options, and --FIELD VALUE for every run
        importlib.import_module(PARSERS[command]).parse_args(rest)
    else:
        parser = importlib.import_module(PARSERS[command]).build_parser()
        if hasattr(parser, "parse_args_into_dataclasses"):  # a dataclass parser: also run the fields' checks
            parser.parse_args_into_dataclasses(args=rest)
        else:
            parser.parse_args(rest)


def test_readme_opens_with_the_two_setup_commands():
    """A new user's first two commands, after the venv line, are the ones CI runs."""
    assert [block.strip() for block in blocks(README, "bash")[:2]] == SETUP_COMMANDS
    ci = (ROOT / ".ci" / "run").read_text()
    assert "bash scripts/install.sh" in ci and "python3 -m pytest -q" in ci


def test_readme_stays_short():
    """Detail belongs on a docs page, measured numbers on docs/benchmarks.md."""
    assert len(README.read_text().splitlines()) <= 300


def slug(heading: str) -> str:
    """A heading's anchor as MkDocs writes it (Python-Markdown's toc slugify)."""
    text = re.sub(r"[^\w\s-]", "", heading.replace("`", "")).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def anchors(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    return {slug(heading) for heading in re.findall(r"^#+ (.+)$", text, flags=re.M)}


@pytest.mark.parametrize("path", DOCUMENTS, ids=name)
def test_links_point_at_files_a_user_has(path):
    """No `../shared` (a user never has it); every relative link of the README and ARCHITECTURE.md
    names a file of the repository, and its #anchor a heading there (mkdocs build --strict checks
    the pages' own links)."""
    text = path.read_text()
    assert "../shared" not in text
    if "docs" in path.relative_to(ROOT).parts:
        return
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        file, _, anchor = target.partition("#")
        linked = (path.parent / file).resolve() if file else path
        assert linked.exists(), f"{name(path)}: link to {target}: no such file"
        if anchor and linked.suffix == ".md":
            assert anchor in anchors(linked), f"{name(path)}: link to {target}: no such heading"
