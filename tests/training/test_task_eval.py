"""Scoring a task during and after training (training/task_eval.py): the evaluator takes
`stp eval`'s options, reuses a step it already scored, and under a launcher shares the prompts
(ranks=all) or leaves them to rank 0 (ranks=main); the callback logs through the trainer."""

from types import SimpleNamespace

import pytest

from semantic_tube.training.arguments import parse_train_args
from semantic_tube.training.config import EvalRanks, TaskEvalArguments
from semantic_tube.training.task_eval import TaskEvaluator, evaluation_shard
from tests.training.test_trainer import args, make_trainer


def test_stp_train_takes_the_task_evaluation_options_of_stp_eval(tmp_path):
    """The time limits, the budget and the suffix split reach the in-training evaluator as stp eval passes them."""
    from semantic_tube.training.task_eval import TaskEvaluator

    data = tmp_path / "test.jsonl"
    data.write_text('{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a.*"}]}\n')
    argv = ["--output_dir", str(tmp_path), "--eval_task", "synth", "--eval_task_file", str(data), "--eval_sql_timeout", "1",
            "--eval_regex_timeout", "0.5", "--eval_task_max_new_tokens", "7", "--eval_suffixes", "a.*"]  # fmt: skip
    task_args = parse_train_args(argv)[3]
    evaluator = TaskEvaluator(task_args, str(data), tmp_path)
    assert (evaluator.options.sql_timeout_s, evaluator.options.regex_timeout_s, evaluator.max_new_tokens) == (1.0, 0.5, 7)
    assert evaluator.suffixes == (".*", ".*.*", "a.*")
    with pytest.raises(ValueError, match="eval_regex_timeout must be > 0"):
        parse_train_args(argv + ["--eval_regex_timeout", "0"])



def test_task_metrics_go_through_the_trainer_log(tiny_dir, train_file, tmp_path):
    """Metrics of the in-training task evaluation reach on_log, where report_to integrations read."""
    from transformers import TrainerCallback

    from semantic_tube.training.task_eval import TaskEvalCallback

    class FakeEvaluator:
        def run(self, model, tokenizer, step, folder=None, shard=(0, 1)):
            return {"task_synth/exact": 0.25}

    class Recorder(TrainerCallback):
        def __init__(self):
            self.logged = []

        def on_log(self, args, state, control, logs=None, **kwargs):
            self.logged.append(dict(logs))

    trainer = make_trainer(tiny_dir, train_file, args(tmp_path, stp_lambda=0.1, max_steps=4))
    recorder = Recorder()
    trainer.add_callback(recorder)
    trainer.add_callback(TaskEvalCallback(FakeEvaluator(), 2, trainer.log))
    trainer.train()
    scored = [entry for entry in recorder.logged if "task_synth/exact" in entry]
    assert [entry["step"] for entry in trainer.state.log_history if "task_synth/exact" in entry] == [2, 4]
    assert len(scored) == 2
    # Scoring at a logging step must not swallow that step's training log (on_log clears should_log).
    assert [entry["step"] for entry in trainer.state.log_history if "ntp_loss" in entry] == [2, 4]



@pytest.mark.parametrize(
    ("ranks", "rank", "world", "shard"),
    [
        (EvalRanks.ALL, 0, 1, (0, 1)),
        (EvalRanks.ALL, 1, 2, (1, 2)),  # each process its share
        (EvalRanks.MAIN, 0, 1, (0, 1)),
        (EvalRanks.MAIN, 0, 2, (0, 1)),  # rank 0 alone, as if it were the only process
        (EvalRanks.MAIN, 1, 2, None),  # sits this one out
    ],
)
def test_each_process_gets_its_share_or_sits_out(ranks, rank, world, shard):
    assert evaluation_shard(SimpleNamespace(process_index=rank, world_size=world), ranks) == shard


def test_ranks_main_refuses_a_sharded_model(monkeypatch):
    import semantic_tube.evaluation.runner as runner

    monkeypatch.setattr(runner, "is_sharded", lambda model: True)
    with pytest.raises(ValueError, match="eval_task_ranks=main: the model is sharded"):
        evaluation_shard(SimpleNamespace(process_index=0, world_size=2), EvalRanks.MAIN, model=object())
    assert evaluation_shard(SimpleNamespace(process_index=1, world_size=2), EvalRanks.ALL, model=object()) == (1, 2)


def test_a_step_already_scored_is_written_again_but_not_generated_again(tmp_path, monkeypatch):
    """The end-of-training scores reuse the last periodic evaluation when it was at the final step;
    only rank 0 writes; the metrics are flat task_<name>/<metric> keys."""
    import semantic_tube.evaluation.runner as runner

    data = tmp_path / "test.jsonl"
    data.write_text("".join(
        f'{{"messages": [{{"role": "user", "content": "q{i}"}}, {{"role": "assistant", "content": "a.*"}}]}}\n' for i in range(3)
    ))  # fmt: skip
    calls, written = [], []

    class Report:
        metrics = {"count": 3, "exact": 0.5}

        def write(self, folder):
            written.append(folder)

    def fake_evaluate(model, tokenizer, task, examples, **options):
        calls.append((task.name, len(examples), options["batch_size"], options["shard"]))
        return Report()

    monkeypatch.setattr(runner, "evaluate", fake_evaluate)
    evaluator = TaskEvaluator(TaskEvalArguments(eval_task="synth", eval_task_limit=2, eval_task_batch_size=5), str(data), tmp_path)
    assert evaluator.run(None, None, step=4, folder="step-4") == {"task_synth/count": 3, "task_synth/exact": 0.5}
    evaluator.run(None, None, step=4)  # the final scores at the same step
    evaluator.run(None, None, step=6, shard=(1, 2))  # another step, on rank 1
    assert calls == [("synth", 2, 5, (0, 1)), ("synth", 2, 5, (1, 2))]
    assert written == [tmp_path / "eval" / "synth" / "step-4", tmp_path / "eval" / "synth"]  # rank 1 writes nothing
