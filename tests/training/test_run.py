"""A run interrupted at any phase of its end and resumed ends exactly where the uninterrupted run
does: global step, logged losses, weights and task scores (issue 21, cases 1, 4 and 5).

Each "kill" is an exception the run does not catch (`Killed`, a BaseException like a signal's
KeyboardInterrupt), raised in-process at one phase: after the last optimizer step (before its
checkpoint), inside the final checkpoint's save (its trainer_state.json, written last, never
written), inside the final model's save (a truncated model.safetensors), during the cost
measurement, during the task evaluation, and after metrics.json. The resume is the same
`train()` call with `resume_from_checkpoint: last`, as `stp sweep` makes it.

max_steps 10 with 12 steps per epoch is not a whole number of epochs: the case where the Trainer,
resumed from checkpoint-10, used to train step 11. A constant schedule makes that extra step
change the weights.

The rest of training/run.py on its own: the resolved config and its round trip, the command
recorded, the failure record, the leakage counts, and the whole-run train_loss and
train_runtime after a resume, by hand.
"""

import json
import shutil
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import yaml
from safetensors.torch import load_file
from transformers.trainer_utils import TrainOutput

import semantic_tube.training.run as run_module
from semantic_tube.data.messages import ChatExample
from semantic_tube.losses.sampling import STPForm
from semantic_tube.run_folder import FAILED_FILE, METRICS_FILE, PROVENANCE_FILE, STATE_FILE
from semantic_tube.training.arguments import parse_train_args
from semantic_tube.training.run import (
    RunClock,
    checkpoint_to_resume,
    clock_seconds,
    command_line,
    last_logged,
    leakage_counts,
    logged_loss_sum,
    plain_value,
    record_failure,
    resolved_config,
    train,
    whole_run,
    write_resolved_config,
)
from semantic_tube.training.task_eval import TaskEvaluator
from tests.training.config.test_legacy import parse_preset
from tests.training.conftest import write_regex_data
from tests.training.test_trainer import args

MAX_STEPS = 10


class Killed(BaseException):
    """A kill: nothing in the run catches it, no failed.json is written."""


@pytest.fixture(scope="module")
def config(tmp_path_factory, tiny_dir, train_file) -> dict:
    root = tmp_path_factory.mktemp("resume")
    test_file = write_regex_data(root / "test.jsonl", 2, seed=3)
    return {
        "model_name_or_path": str(tiny_dir), "train_file": str(train_file), "max_length": 96,
        "max_steps": MAX_STEPS, "per_device_train_batch_size": 4, "learning_rate": 0.005, "lr_scheduler_type": "constant",
        "logging_steps": 5, "save_strategy": "steps", "save_steps": 5, "report_to": "none", "use_cpu": True,
        "disable_tqdm": True, "seed": 82, "stp_lambda": 0.02, "cost_batches": 1, "treatment_batches": 0,
        "eval_task": "synth", "eval_task_file": str(test_file), "eval_task_limit": 2,
    }  # fmt: skip


def run(config: dict, folder: Path, **fields) -> dict:
    path = folder.parent / f"{folder.name}.yaml"
    path.write_text(json.dumps({**config, "output_dir": str(folder), **fields}))  # JSON is YAML
    return train(*parse_train_args(["--config", str(path)]))


@pytest.fixture(scope="module")
def reference(config, tmp_path_factory) -> Path:
    """The uninterrupted run."""
    folder = tmp_path_factory.mktemp("reference") / "run"
    run(config, folder)
    return folder


def history(folder: Path) -> list[dict]:
    return json.loads((folder / STATE_FILE).read_text())["log_history"]


def training_losses(folder: Path) -> dict[int, tuple]:
    return {entry["step"]: (entry["loss"], entry["ntp_loss"], entry["stp_loss"]) for entry in history(folder) if "ntp_loss" in entry}


def scores(metrics: dict) -> dict:
    return {key: value for key, value in metrics.items() if key.startswith("task_")}


def kill_after_the_last_step(monkeypatch, folder):
    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == MAX_STEPS:
            raise Killed("after the last optimizer step, before its checkpoint")

    monkeypatch.setattr(RunClock, "on_step_end", on_step_end, raising=False)


def kill_inside_the_checkpoint_save(monkeypatch, folder):
    from transformers import TrainerState

    save = TrainerState.save_to_json

    def save_to_json(self, json_path):
        if Path(json_path).parent.name == f"checkpoint-{MAX_STEPS}":
            raise Killed("while checkpoint-10 is written: weights and optimizer there, trainer_state.json not yet")
        save(self, json_path)

    monkeypatch.setattr(TrainerState, "save_to_json", save_to_json)


def kill_inside_the_model_save(monkeypatch, folder):
    save = run_module.STPTrainer.save_model

    def save_model(self, output_dir=None, *args, **kwargs):
        if output_dir is not None:  # a checkpoint's weights
            return save(self, output_dir, *args, **kwargs)
        (folder / "model.safetensors").write_bytes(b"\x00" * 10)  # the final model, cut short
        raise Killed("while the final model is written")

    monkeypatch.setattr(run_module.STPTrainer, "save_model", save_model)


def kill_during_the_cost_measurement(monkeypatch, folder):
    def measure(trainer, batches):
        raise Killed("during the cost measurement")

    monkeypatch.setattr(run_module, "measure_step_cost", measure)


def kill_during_the_task_evaluation(monkeypatch, folder):
    evaluate = TaskEvaluator.run

    def run_and_die(self, *args, **kwargs):
        evaluate(self, *args, **kwargs)  # the evaluation's files are written ...
        raise Killed("during the task evaluation")  # ... but metrics.json is not

    monkeypatch.setattr(TaskEvaluator, "run", run_and_die)


def no_kill(monkeypatch, folder):
    """The run finishes; resuming a finished folder (a kill after metrics.json) changes nothing."""


PHASES = [
    kill_after_the_last_step,
    kill_inside_the_checkpoint_save,
    kill_inside_the_model_save,
    kill_during_the_cost_measurement,
    kill_during_the_task_evaluation,
    no_kill,
]


@pytest.mark.parametrize("kill", PHASES, ids=lambda phase: phase.__name__)
def test_a_run_killed_at_any_phase_of_its_end_resumes_to_the_uninterrupted_run(kill, config, reference, tmp_path, monkeypatch):
    folder = tmp_path / "run"
    with monkeypatch.context() as patch:
        kill(patch, folder)
        if kill is no_kill:
            run(config, folder)
        else:
            with pytest.raises(Killed):
                run(config, folder)
    if kill is not no_kill:
        assert not (folder / METRICS_FILE).exists() and not (folder / FAILED_FILE).exists()  # unfinished, not failed
    newest = checkpoint_to_resume(parse_train_args(["--output_dir", str(folder), "--resume_from_checkpoint", "last"])[2])
    killed_before_the_final_checkpoint = kill in (kill_after_the_last_step, kill_inside_the_checkpoint_save)
    assert newest == str(folder / f"checkpoint-{5 if killed_before_the_final_checkpoint else MAX_STEPS}")
    clock_before = clock_seconds(newest)

    metrics = run(config, folder, resume_from_checkpoint="last")

    state = json.loads((folder / STATE_FILE).read_text())
    assert state["global_step"] == MAX_STEPS and metrics["epoch"] == pytest.approx(MAX_STEPS / 12)
    resumed, expected = training_losses(folder), training_losses(reference)
    assert list(resumed) == list(expected) == [5, 10]
    for step in expected:
        assert resumed[step] == pytest.approx(expected[step], rel=1e-5), step
    weights, expected_weights = load_file(folder / "model.safetensors"), load_file(reference / "model.safetensors")
    assert weights.keys() == expected_weights.keys()
    for name, tensor in expected_weights.items():
        torch.testing.assert_close(weights[name], tensor, rtol=1e-5, atol=1e-6, msg=name)
    reference_metrics = json.loads((reference / METRICS_FILE).read_text())
    assert scores(metrics) == scores(reference_metrics) and scores(metrics)
    for key in ("final_loss", "final_ntp_loss", "final_stp_loss", "train_loss"):
        assert metrics[key] == pytest.approx(reference_metrics[key], rel=1e-5), key
    # train_runtime covers the whole run: at least the training time the resumed checkpoint recorded
    assert clock_before is not None and metrics["train_runtime"] >= clock_before > 0
    summary = [entry for entry in state["log_history"] if "train_runtime" in entry]
    assert summary[-1]["train_runtime"] == metrics["train_runtime"] and summary[-1]["train_loss"] == metrics["train_loss"]
    assert json.loads((folder / METRICS_FILE).read_text()) == json.loads(json.dumps(metrics))


def test_resume_last_skips_a_half_written_checkpoint_and_says_so(tmp_path, caplog):
    """Issue 21.5: the Trainer writes trainer_state.json last; a checkpoint without it was killed
    mid-save, and `--resume_from_checkpoint last` must take the newest complete one."""
    for step, complete in ((5, True), (10, False)):
        (tmp_path / f"checkpoint-{step}").mkdir()
        (tmp_path / f"checkpoint-{step}" / "model.safetensors").write_bytes(b"\x00")
        if complete:
            (tmp_path / f"checkpoint-{step}" / STATE_FILE).write_text(json.dumps({"global_step": step}))
    (tmp_path / "checkpoint-15").mkdir()
    (tmp_path / "checkpoint-15" / STATE_FILE).write_text('{"global_step": 1')  # cut short
    args = parse_train_args(["--output_dir", str(tmp_path), "--resume_from_checkpoint", "last"])[2]
    with caplog.at_level("WARNING"):
        assert checkpoint_to_resume(args) == str(tmp_path / "checkpoint-5")
    assert "skipping " + str(tmp_path / "checkpoint-15") in caplog.text and "skipping " + str(tmp_path / "checkpoint-10") in caplog.text


def test_a_failed_run_writes_its_own_failure_record_and_every_run_its_provenance(config, tmp_path):
    """`stp train` records its own failure (type, message, traceback) and provenance, so neither
    a sweep nor a user reads a log for them; a later attempt that finishes removes failed.json."""
    folder = tmp_path / "run"
    with pytest.raises(Exception, match="max_length=8 cuts"):
        run(config, folder, max_length=8)
    failure = json.loads((folder / FAILED_FILE).read_text())
    assert failure["type"] == "DataError" and "max_length=8 cuts" in failure["message"]
    assert failure["error"].startswith("DataError: ") and "Traceback (most recent call last)" in failure["traceback"]
    assert failure["finished_at"] and failure["process_index"] == 0
    record = json.loads((folder / PROVENANCE_FILE).read_text())
    assert set(record) >= {"command", "started_at", "commit", "versions"}
    assert set(record["versions"]) == {"python", "torch", "transformers", "semantic_tube"}
    run(config, folder, max_steps=2, save_strategy="no", eval_task=None, cost_batches=0)
    assert (folder / METRICS_FILE).is_file() and not (folder / FAILED_FILE).exists()


def test_a_new_attempt_in_a_finished_folder_is_unfinished_until_it_ends(config, tmp_path, monkeypatch):
    """metrics.json of an earlier attempt describes weights the new attempt replaces: it goes
    when the attempt starts, and a kill then leaves an unfinished folder, not a finished one."""
    folder = tmp_path / "run"
    run(config, folder, max_steps=2, save_strategy="no", eval_task=None, cost_batches=0)
    assert (folder / METRICS_FILE).is_file()
    with monkeypatch.context() as patch:
        kill_during_the_cost_measurement(patch, folder)
        with pytest.raises(Killed):
            run(config, folder, max_steps=2, save_strategy="no", eval_task=None)
    assert not (folder / METRICS_FILE).exists() and not (folder / FAILED_FILE).exists()
    shutil.rmtree(folder)


# --- the rest of run.py on its own -------------------------------------------------------------


def test_resume_last_picks_the_newest_checkpoint(tmp_path):
    assert checkpoint_to_resume(args(tmp_path / "none", resume_from_checkpoint="last")) is None
    for step in (3, 12, 6):
        (tmp_path / f"checkpoint-{step}").mkdir()
        (tmp_path / f"checkpoint-{step}" / "trainer_state.json").write_text("{}")
    assert checkpoint_to_resume(args(tmp_path, resume_from_checkpoint="last")).endswith("checkpoint-12")
    assert checkpoint_to_resume(args(tmp_path, resume_from_checkpoint="x/checkpoint-3")) == "x/checkpoint-3"


def test_a_resolved_config_holds_stp_gap_alone_and_round_trips(tmp_path):
    configs = parse_preset(tmp_path, {"stp_skip_gap": False})
    write_resolved_config(tmp_path, *configs)
    written = yaml.safe_load((tmp_path / "stp_config.yaml").read_text())
    assert written["stp_gap"] == "none" and not {"stp_skip_gap", "stp_gap_origin"} & set(written)
    assert written["dtype"] == "auto"
    again = parse_train_args(["--config", str(tmp_path / "stp_config.yaml")])
    assert resolved_config(*again) == resolved_config(*configs)


def test_plain_values_are_enums_by_value_and_lists_of_them():
    assert plain_value(STPForm.SPAN) == "span"
    assert plain_value((STPForm.TUBE, STPForm.ZERO)) == ["tube", "zero"]
    assert plain_value({"a": 1}) == {"a": 1} and plain_value(None) is None


def test_the_resolved_config_leaves_secrets_and_their_placeholders_out(tmp_path):
    values = resolved_config(args(tmp_path, hub_token="s3cret", stp_log_forms="span,tube"))
    assert "hub_token" not in values and "s3cret" not in yaml.safe_dump(values)
    assert values["stp_log_forms"] == ["span", "tube"] and values["method"] == "stp" and values["output_dir"] == str(tmp_path)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["/usr/local/bin/stp", "train", "--seed", "1"], "stp train --seed 1"),
        (["/x/semantic_tube/__main__.py", "train", "--output_dir", "a b"], f"{sys.executable} -m semantic_tube train --output_dir 'a b'"),
        (["/x/other/__main__.py", "train"], "__main__.py train"),
        ([], "python"),
    ],
)
def test_the_command_is_recorded_as_typed(argv, expected):
    assert command_line(argv) == expected


def test_the_first_failure_is_recorded_and_an_unwritable_folder_does_not_hide_the_error(tmp_path, caplog):
    record_failure(tmp_path, ValueError("first\nsecond line"), process_index=1)
    record_failure(tmp_path, KeyError("later"))  # another process failing after it
    failure = json.loads((tmp_path / FAILED_FILE).read_text())
    assert (failure["type"], failure["error"], failure["process_index"]) == ("ValueError", "ValueError: first", 1)
    (tmp_path / "a_file").write_text("")
    with caplog.at_level("WARNING"):
        record_failure(tmp_path / "a_file", ValueError("x"))  # its "folder" is a file: no failed.json can go there
    assert "could not write" in caplog.text


def test_leakage_counts_the_distinct_queries_and_answers_each_held_out_set_shares():
    train_rows = [ChatExample(user="q1", assistant="a1"), ChatExample(user="q2", assistant="a2")]
    held_out = {
        "eval_file": [ChatExample(user="q1", assistant="x"), ChatExample(user="q3", assistant="a2"), ChatExample(user="q3", assistant="a2")],
        "eval_task_file": [ChatExample(user="q9", assistant="a9")],
    }
    assert leakage_counts(train_rows, held_out) == {
        "leakage/eval_file/queries": 1, "leakage/eval_file/answers": 1,
        "leakage/eval_task_file/queries": 0, "leakage/eval_task_file/answers": 0,
    }  # fmt: skip
    assert leakage_counts(train_rows, {}) == {}


HISTORY = [
    {"step": 2, "loss": 3.0},
    {"step": 4, "loss": 2.0, "ntp_loss": 1.9},
    {"step": 4, "eval_loss": 9.0},  # an evaluation entry: no training loss
    {"step": 6, "loss": 1.0, "ntp_loss": 0.8},
]


def test_the_logged_losses_sum_each_mean_over_the_steps_it_covers():
    """Each logged loss is the mean over the steps since the previous log: 3*2 + 2*2 = 10 over 4 steps."""
    assert logged_loss_sum(HISTORY, 4) == (10.0, 4)
    assert logged_loss_sum(HISTORY, 5) == (10.0, 4)  # step 6's mean covers steps 5 and 6: not yet
    assert logged_loss_sum(HISTORY, 6) == (12.0, 6)
    assert logged_loss_sum(HISTORY, 0) == (0.0, 0)


def test_the_last_logged_value_of_each_series_is_kept_as_final():
    assert last_logged(HISTORY, ("loss", "ntp_loss", "stp_loss")) == {"final_loss": 1.0, "final_ntp_loss": 0.8}


def test_a_resumed_runs_loss_and_runtime_cover_the_whole_run():
    """Resumed at step 4 of 6: steps 1-4 from the log (3*2 + 2*2 = 10), steps 5-6 the session's
    mean 1.0 (2 in all): train_loss (10 + 2) / 6 = 2; runtime 5 s before + 3 s now = 8 s. The log
    history's summary entry says the same."""
    history = [dict(entry) for entry in HISTORY] + [{"step": 6, "train_runtime": 3.0, "train_loss": 1.0}]
    trainer = SimpleNamespace(state=SimpleNamespace(global_step=6, log_history=history))
    result = TrainOutput(6, 1.0, {"train_runtime": 3.0, "train_loss": 1.0, "train_steps_per_second": 0.667})
    whole = whole_run(trainer, result, resumed_step=4, before_seconds=5.0)
    assert whole.training_loss == 2.0 and whole.metrics["train_loss"] == 2.0 and whole.metrics["train_runtime"] == 8.0
    assert whole.metrics["train_steps_per_second"] == 0.667  # steps were trained in this session: its own rate
    assert history[-1] == {"step": 6, "train_runtime": 8.0, "train_loss": 2.0, "train_steps_per_second": 0.667}


def test_a_resume_with_nothing_left_to_train_takes_its_rates_over_the_whole_run():
    """A checkpoint already at max_steps 6: the loss is the log's (12 / 6 = 2), and the rates are
    6 steps / 8 s = 0.75 and 6 x (4 x 2 x 1) samples / 8 s = 6."""
    history = [dict(entry) for entry in HISTORY] + [{"train_runtime": 0.0}]
    trainer = SimpleNamespace(
        state=SimpleNamespace(global_step=6, log_history=history),
        args=SimpleNamespace(per_device_train_batch_size=4, gradient_accumulation_steps=2, world_size=1),
    )
    whole = whole_run(trainer, TrainOutput(6, float("nan"), {"train_runtime": 0.0}), resumed_step=6, before_seconds=8.0)
    assert whole.metrics == {"train_loss": 2.0, "train_runtime": 8.0, "train_steps_per_second": 0.75, "train_samples_per_second": 6.0}
