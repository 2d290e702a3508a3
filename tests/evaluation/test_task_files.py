"""A task file's rows must be prompts with reference answers: a plain-text row (which trains) is
refused by `Task.load`, by `stp eval` and by `stp train --eval_task`, naming its file, line and
field, for every task."""

import json

import pytest

from semantic_tube.data.messages import DataError
from semantic_tube.evaluation.tasks import TASKS

MESSAGE = "text: a plain-text row has no prompt to generate from; a task file needs a user turn"


def task_file(path, task: str):
    """Two rows each task accepts (GSM8K's answer marker, an option letter), then plain text on line 3."""
    answer = {"gsm8k": "2 #### 2", "hellaswag": "A"}.get(task, "SELECT 1" if task == "spider" else "dog.*")
    user = "For db_id:[x]\n\nq" if task == "spider" else "lines with dog\nA) one\nB) two"
    row = {"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]}
    path.write_text("".join(json.dumps(record) + "\n" for record in (row, row, {"text": "The dog by the lake."})))
    return path


@pytest.mark.parametrize("task", sorted(TASKS))
def test_a_plain_text_row_in_a_task_file_names_file_line_and_field(tmp_path, task):
    path = task_file(tmp_path / "test.jsonl", task)
    with pytest.raises(DataError) as raised:
        TASKS[task].load(path)
    assert str(raised.value).startswith(f"{path}:3: {MESSAGE}")
    assert len(TASKS[task].load(path, limit=2)) == 2  # the rows before it are read as ever


def test_stp_eval_reports_it_as_one_line(tmp_path, capsys):
    from semantic_tube.cli import evaluate

    path = task_file(tmp_path / "test.jsonl", "synth")
    assert evaluate.main(["--task", "synth", "--data", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:3: {MESSAGE}" in err and "Traceback" not in err


def test_stp_train_reports_it_before_training(tmp_path, capsys):
    from semantic_tube.cli import main
    from tests.tiny_models import save_tiny
    from tests.training.conftest import write_regex_data

    model = save_tiny(tmp_path / "tiny", "llama3", seed=1)
    path = task_file(tmp_path / "test.jsonl", "synth")
    argv = ["train", "--model_name_or_path", str(model), "--train_file", str(write_regex_data(tmp_path / "train.jsonl", 8)),
            "--output_dir", str(tmp_path / "run"), "--max_steps", "1", "--use_cpu", "true", "--report_to", "none",
            "--eval_task", "synth", "--eval_task_file", str(path)]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"{path}:3: {MESSAGE}" in err and "Traceback" not in err
    assert not (tmp_path / "run" / "trainer_state.json").exists()
