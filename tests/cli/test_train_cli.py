"""`stp train` end to end on a tiny model saved as a local folder."""

import json
import re
import subprocess
import sys

import pytest
import torch
import yaml
from safetensors.torch import load_file
from transformers import AutoTokenizer

from semantic_tube.cli import main
from semantic_tube.training.model import load_model
from tests.tiny_models import save_tiny
from tests.training.conftest import write_regex_data


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    model_dir = save_tiny(root / "tiny", "llama3", seed=1)
    train_file = write_regex_data(root / "train.jsonl", 40, seed=1)
    eval_file = write_regex_data(root / "eval.jsonl", 8, seed=2)
    config = root / "preset.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "model_name_or_path": str(model_dir),
                "train_file": str(train_file),
                "eval_file": str(eval_file),
                "max_steps": 20,
                "per_device_train_batch_size": 4,
                "learning_rate": 0.005,
                "logging_steps": 5,
                "stp_lambda": 0.02,
                "report_to": "none",
                "save_strategy": "no",
                "use_cpu": True,
            }
        )
    )
    return root, model_dir, config


def test_train_writes_a_complete_output_folder(setup):
    root, model_dir, config = setup
    out = root / "run"
    assert main(["train", "--config", str(config), "--output_dir", str(out), "--seed", "82"]) == 0
    for name in ("stp_config.yaml", "trainer_state.json", "metrics.json", "model.safetensors", "tokenizer.json"):
        assert (out / name).is_file(), name
    history = json.loads((out / "trainer_state.json").read_text())["log_history"]
    train_logs = [entry for entry in history if "ntp_loss" in entry]
    assert len(train_logs) == 4 and all("stp_loss" in entry for entry in train_logs)
    assert train_logs[-1]["ntp_loss"] < train_logs[0]["ntp_loss"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["seed"] == 82 and "eval_loss" in metrics and "eval_stp_loss" in metrics
    # the two files come from one small grammar, so some queries repeat across them: reported, not hidden
    assert metrics["leakage/eval_file/queries"] > 0
    resolved = yaml.safe_load((out / "stp_config.yaml").read_text())
    assert resolved["stp_lambda"] == 0.02 and resolved["seed"] == 82 and resolved["stp_form"] == "tube"
    before, after = load_file(model_dir / "model.safetensors"), load_file(out / "model.safetensors")
    unchanged = [name for name in before if torch.equal(before[name], after[name])]
    assert unchanged == []


def test_lora_trains_only_the_adapter_and_reloads(setup):
    root, model_dir, config = setup
    out = root / "lora"
    code = main(["train", "--config", str(config), "--output_dir", str(out), "--finetuning", "lora", "--max_steps", "4", "--eval_file", ""])
    assert code == 0
    assert (out / "adapter_model.safetensors").is_file() and not (out / "model.safetensors").exists()
    adapter = load_file(out / "adapter_model.safetensors")
    assert adapter and all("lora_" in name for name in adapter)
    assert any(name.endswith("lora_B.weight") and tensor.abs().sum() > 0 for name, tensor in adapter.items())
    model = load_model(str(out), dtype="float32")
    assert type(model).__name__ == "PeftModelForCausalLM"


def test_bad_data_line_is_reported_with_file_and_line(setup, tmp_path, capsys):
    root, _, config = setup
    bad = tmp_path / "bad.jsonl"
    bad.write_text((root / "train.jsonl").read_text() + '{"messages": [{"role": "user", "content": "q"}]}\n')
    code = main(["train", "--config", str(config), "--train_file", str(bad), "--output_dir", str(tmp_path / "o")])
    assert code == 2
    assert f"{bad}:41: messages.assistant: missing 'assistant' turn" in capsys.readouterr().err


def test_unknown_config_key_and_negative_lambda_are_errors(setup, tmp_path, capsys):
    _, _, config = setup
    preset = tmp_path / "p.yaml"
    preset.write_text(config.read_text() + "stp_lamda: 0.1\n")
    assert main(["train", "--config", str(preset)]) == 2
    assert "unknown field(s) stp_lamda" in capsys.readouterr().err
    assert main(["train", "--config", str(config), "--stp_lambda", "-1"]) == 2
    assert "stp_lambda must be >= 0" in capsys.readouterr().err


def test_python_dash_m_is_the_same_command():
    result = subprocess.run([sys.executable, "-m", "semantic_tube", "--help"], capture_output=True, text=True, check=True)
    assert "train" in result.stdout and "regex" in result.stdout


def test_generated_data_and_task_evaluation_during_and_after_training(setup):
    """No train_file: NL-RX data is generated into the run; the synth task is scored every 2
    steps and at the end through the same code as `stp eval`."""
    root, model_dir, _ = setup
    out = root / "generated"
    code = main([
        "train", "--model_name_or_path", str(model_dir), "--output_dir", str(out), "--nlrx_examples", "60",
        "--max_steps", "4", "--per_device_train_batch_size", "2", "--report_to", "none", "--save_strategy", "no",
        "--use_cpu", "true", "--eval_task", "synth", "--eval_task_limit", "3", "--eval_task_steps", "2",
    ])  # fmt: skip
    assert code == 0
    assert (out / "data" / "train.jsonl").is_file() and (out / "data" / "test.jsonl").is_file()
    for folder in (out / "eval" / "synth", out / "eval" / "synth" / "step-2", out / "eval" / "synth" / "step-4"):
        assert (folder / "eval.json").is_file() and len((folder / "predictions.jsonl").read_text().splitlines()) == 3
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["task_synth/count"] == 3 and 0.0 <= metrics["task_synth/equivalent"] <= 1.0
    assert metrics["leakage/eval_task_file/queries"] == 0 and metrics["leakage/eval_task_file/answers"] == 0
    history = json.loads((out / "trainer_state.json").read_text())["log_history"]
    assert [entry["step"] for entry in history if "task_synth/equivalent" in entry] == [2, 4]


def test_unknown_task_fails_before_training(setup, tmp_path, capsys):
    _, _, config = setup
    with pytest.raises(SystemExit) as info:
        main(["train", "--config", str(config), "--output_dir", str(tmp_path / "o"), "--eval_task", "nope"])
    assert info.value.code == 2 and "invalid choice: 'nope'" in capsys.readouterr().err
    preset = tmp_path / "p.yaml"
    preset.write_text(config.read_text() + "eval_task: nope\n")  # a preset's value is checked too
    assert main(["train", "--config", str(preset), "--output_dir", str(tmp_path / "o")]) == 2
    assert "nope" in capsys.readouterr().err and not (tmp_path / "o" / "trainer_state.json").exists()


def test_the_run_ends_with_its_scores_losses_and_files(setup, capsys):
    """What the run was for is printed where the user looks: the task table with intervals,
    the final losses, the run time and the output folder's main files."""
    root, model_dir, _ = setup
    out = root / "summary"
    code = main([
        "train", "--model_name_or_path", str(model_dir), "--output_dir", str(out), "--nlrx_examples", "60",
        "--max_steps", "2", "--logging_steps", "1", "--per_device_train_batch_size", "2", "--report_to", "none",
        "--save_strategy", "no", "--use_cpu", "true", "--eval_task", "synth", "--eval_task_limit", "3",
    ])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert "task synth: 3 examples" in printed
    exact = metrics["task_synth/exact"]
    low, high = metrics["task_synth/exact_ci95_low"], metrics["task_synth/exact_ci95_high"]
    assert f"{exact:.3f}  [{low:.3f}, {high:.3f}]" in printed
    assert f"ntp {metrics['final_ntp_loss']:.4f}, stp {metrics['final_stp_loss']:.4f}" in printed
    assert f"cost: 1 forward pass(es) per step, step time {metrics['cost/step_time_vs_ntp']:.2f} x NTP's" in printed
    assert "method stp, stp_lambda 0.02" in printed
    assert re.search(r"stp train: done in \d+m \d\ds \(\d+m \d\ds of training\)", printed)
    assert str(out) in printed and "eval/synth/eval.json" in printed
    for name in ("all_results.json", "train_results.json", "eval_results.json"):
        assert (out / name).is_file(), name
    assert json.loads((out / "eval_results.json").read_text())["task_synth/exact"] == exact


def test_help_lists_the_project_options_first_with_typed_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    headings = [line for line in text.splitlines() if line and not line.startswith(" ") and line.endswith(":")]
    assert headings[1:] == [
        "method: STP (Semantic Tube Prediction) and the baselines of Appendix L:", "model:", "data:", "task evaluation:",
        "run (the Trainer options most runs set):", "transformers.TrainingArguments (the Trainer's own options):",
    ]  # fmt: skip
    flat = " ".join(text.split())  # help lines wrap anywhere
    assert "--stp_form {tube,anchored,span,zero}" in flat and "span (the reference code) (default: tube)" in flat
    assert "--method {ntp,stp,llm-jepa,two-view,mask,curvature}" in flat and "(default: stp)" in flat
    assert "STPForm" not in text and "LabelMode" not in text
    assert "{synth,turk,gsm8k,spider,nq_open,hellaswag}" in text
    assert "`last`" in text
    options = text[text.index("method: STP (Semantic Tube Prediction) and the baselines of Appendix L:") :]  # past the usage examples
    assert options.index("--stp_lambda") < options.index("--model_name_or_path") < options.index("--seed") < options.index("--adam_beta1")


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [
        (["--use_peft", "true"], ["--finetuning", "lora"]),
        (["--assistant_only_loss", "true"], ["--label_mode", "answer"]),
        (["--completion_only_loss", "false"], ["--label_mode", "all"]),
        (["--output-dir", "x"], ["--output_dir", "x"]),
        (["--train-file", "t.jsonl"], ["--train_file", "t.jsonl"]),
    ],
)
def test_aliases_set_the_same_field(alias, canonical):
    from semantic_tube.training.arguments import parse_train_args
    from semantic_tube.training.run import resolved_config

    base = ["--output_dir", "o", "--label_mode", "reference"]
    aliased = resolved_config(*parse_train_args(base + alias))
    direct = resolved_config(*parse_train_args(base + canonical))
    differing = {key for key in direct if aliased[key] != direct[key]} - {"use_peft", "assistant_only_loss", "completion_only_loss"}
    assert differing == set()


def test_disagreeing_trl_names_are_an_error(capsys):
    assert main(["train", "--assistant_only_loss", "true", "--completion_only_loss", "false"]) == 2
    assert "disagree" in capsys.readouterr().err


def test_resolved_config_round_trips_without_secrets(tmp_path):
    """stp_config.yaml fed back with --config gives the same run; no token and no masked
    placeholder (which would become the token) is written."""
    from semantic_tube.training.arguments import parse_train_args
    from semantic_tube.training.run import resolved_config, write_resolved_config

    argv = ["--output_dir", str(tmp_path), "--hub_token", "hf_secret", "--stp_form", "span", "--seed", "4",
            "--chat_template_kwargs", '{"enable_thinking": false}', "--use_peft", "true", "--report_to", "none",
            "--stp_log_forms", "span,tube"]  # fmt: skip
    configs = parse_train_args(argv)
    write_resolved_config(tmp_path, *configs)
    written = (tmp_path / "stp_config.yaml").read_text()
    assert "hf_secret" not in written and "HUB_TOKEN" not in written
    again = parse_train_args(["--config", str(tmp_path / "stp_config.yaml")])
    assert again[2].hub_token is None
    assert resolved_config(*again) == resolved_config(*configs)
    assert again[1].chat_template_kwargs == {"enable_thinking": False} and again[2].stp_form.value == "span"
    assert [form.value for form in again[2].stp_log_forms] == ["span", "tube"]


def test_internal_errors_keep_their_traceback(setup, tmp_path, monkeypatch):
    """Only the project's own errors become one line; a bug elsewhere must show where it is."""
    import semantic_tube.training.run as run

    _, _, config = setup

    def broken(*args, **kwargs):
        raise ValueError("an internal bug")

    monkeypatch.setattr(run, "load_model", broken)
    with pytest.raises(ValueError, match="an internal bug"):
        main(["train", "--config", str(config), "--output_dir", str(tmp_path / "o")])


def test_train_fraction_trains_on_a_nested_subset(setup, tmp_path):
    _, _, config = setup
    out = tmp_path / "half"
    assert main(["train", "--config", str(config), "--output_dir", str(out), "--train_fraction", "0.5", "--max_steps", "1", "--eval_file", ""]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["train_examples"] == 20 and metrics["train_fraction"] == 0.5
    out = tmp_path / "limited"
    code = main(["train", "--config", str(config), "--output_dir", str(out), "--max_train_examples", "16", "--train_fraction", "0.5",
                 "--max_steps", "1", "--eval_file", ""])  # fmt: skip
    assert code == 0 and json.loads((out / "metrics.json").read_text())["train_examples"] == 8


@pytest.mark.parametrize(("method", "series", "passes"), [("mask", "mask_loss", 2), ("curvature", "curvature_loss", 1)])
def test_a_baseline_method_trains_end_to_end_and_records_its_cost(setup, tmp_path, capsys, method, series, passes):
    _, _, config = setup
    out = tmp_path / method
    assert main(["train", "--config", str(config), "--output_dir", str(out), "--method", method, "--max_steps", "5", "--cost_batches", "1"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["method"] == method and f"final_{series}" in metrics and f"eval_{series}" in metrics
    assert f"{series.removesuffix('_loss')} {metrics[f'final_{series}']:.4f}" in capsys.readouterr().out
    assert metrics["cost/forward_passes_per_step"] == passes and metrics["cost/step_time_vs_ntp"] > 0
    assert yaml.safe_load((out / "stp_config.yaml").read_text())["method"] == method
    load_model(str(out), dtype="float32")  # a model trained with any method loads for evaluation


def test_llm_jepa_with_lora_trains_and_reloads_with_its_predictor_tokens(setup, tmp_path):
    _, _, config = setup
    out = tmp_path / "jepa"
    code = main(["train", "--config", str(config), "--output_dir", str(out), "--method", "llm-jepa", "--stp_lambda", "0.5",
                 "--jepa_predictor_tokens", "1", "--finetuning", "lora", "--max_steps", "5", "--cost_batches", "1"])  # fmt: skip
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["cost/forward_passes_per_step"] == 3 and "final_jepa_loss" in metrics
    model = load_model(str(out), dtype="float32")
    tokenizer = AutoTokenizer.from_pretrained(out)
    predictor_id = tokenizer.convert_tokens_to_ids("<|predictor_1|>")
    rows = model.get_base_model().get_input_embeddings().weight
    # LoRA left the added row at its start, the mean of the rows before it: rebuilt exactly on load.
    assert torch.allclose(rows[predictor_id], rows[:predictor_id].mean(dim=0), atol=1e-6)


def test_model_init_kwargs_reach_the_trained_model(setup, tmp_path, monkeypatch):
    """--model_init_kwargs (TRL's model_init_kwargs) goes to from_pretrained: attn_implementation
    reaches the loaded model's config; it is recorded in stp_config.yaml."""
    import semantic_tube.training.run as run

    _, _, config = setup
    loaded = []
    original = run.load_model

    def recording(*args, **kwargs):
        loaded.append(original(*args, **kwargs))
        return loaded[-1]

    monkeypatch.setattr(run, "load_model", recording)
    out = tmp_path / "eager"
    argv = ["train", "--config", str(config), "--output_dir", str(out), "--max_steps", "1", "--eval_file", "", "--cost_batches", "0",
            "--model_init_kwargs", '{"attn_implementation": "eager"}']  # fmt: skip
    assert main(argv) == 0
    assert [model.config._attn_implementation for model in loaded] == ["eager"]
    assert yaml.safe_load((out / "stp_config.yaml").read_text())["model_init_kwargs"] == {"attn_implementation": "eager"}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--model_init_kwargs", "{attn: eager}"], "model_init_kwargs: not JSON"),
        (["--model_init_kwargs", '["eager"]'], "model_init_kwargs: expected a mapping"),
        (["--dtype", "float16", "--model_init_kwargs", '{"dtype": "bfloat16"}'],
         "dtype given twice: dtype='float16' and model_init_kwargs['dtype']='bfloat16'"),
        (["--model_init_kwargs", '{"torch_dtype": "int8"}'], "model_init_kwargs['torch_dtype']='int8': expected one of"),
    ],
)  # fmt: skip
def test_bad_model_init_kwargs_are_config_errors_naming_the_field(argv, message, capsys):
    assert main(["train", "--output_dir", "o", *argv]) == 2
    assert message in capsys.readouterr().err


def test_a_dtype_inside_model_init_kwargs_sets_dtype_and_round_trips(tmp_path):
    from semantic_tube.training.arguments import parse_train_args
    from semantic_tube.training.run import resolved_config, write_resolved_config

    argv = ["--output_dir", str(tmp_path), "--model_init_kwargs", '{"dtype": "bfloat16", "attn_implementation": "eager"}']
    configs = parse_train_args(argv)
    assert (configs[0].dtype, configs[0].model_init_kwargs) == ("bfloat16", {"attn_implementation": "eager"})
    write_resolved_config(tmp_path, *configs)
    again = parse_train_args(["--config", str(tmp_path / "stp_config.yaml")])
    assert resolved_config(*again) == resolved_config(*configs)


def test_lora_settings_come_from_the_config_with_trls_names(tmp_path):
    """lora_r, lora_alpha, lora_dropout and lora_target_modules are TRL's ModelConfig names too
    (no aliases needed); a YAML list of modules, as TRL's configs write it, works."""
    from semantic_tube.training.arguments import parse_train_args
    from semantic_tube.training.run import attach_lora
    from tests.tiny_models import tiny_model, tiny_tokenizer

    preset = tmp_path / "lora.yaml"
    preset.write_text(yaml.safe_dump({"use_peft": True, "lora_r": 4, "lora_alpha": 8, "lora_dropout": 0.1,
                                      "lora_target_modules": ["q_proj", "v_proj"]}))  # fmt: skip
    model_args = parse_train_args(["--config", str(preset), "--output_dir", str(tmp_path)])[0]
    assert (model_args.lora_r, model_args.lora_alpha, model_args.lora_dropout) == (4, 8, 0.1)
    assert model_args.lora_target_modules == "q_proj,v_proj"
    lora = attach_lora(tiny_model(tiny_tokenizer()), model_args).peft_config["default"]
    assert (lora.r, lora.lora_alpha, lora.lora_dropout, set(lora.target_modules)) == (4, 8, 0.1, {"q_proj", "v_proj"})
    flags = parse_train_args(["--output_dir", "o", "--lora_r", "2", "--lora-target-modules", "k_proj"])[0]
    assert (flags.lora_r, flags.lora_target_modules) == (2, "k_proj")


@pytest.mark.parametrize("saved", [True, False], ids=["save_to_disk", "load_dataset"])
def test_dataset_name_trains_on_a_local_datasets_folder_with_packing(setup, tmp_path, saved):
    """--dataset_name: a save_to_disk folder, or JSON files datasets.load_dataset reads, of
    prompt-completion rows; --packing trains on the same batches in one row each."""
    from datasets import Dataset

    root, model_dir, config = setup
    rows = [json.loads(line)["messages"] for line in (root / "train.jsonl").read_text().splitlines()]
    rows = [{"prompt": turns[:-1], "completion": turns[-1:]} for turns in rows]
    folder = tmp_path / "data"
    if saved:
        Dataset.from_list(rows).save_to_disk(str(folder))
    else:
        folder.mkdir()
        (folder / "train.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    logs = {}
    for packing in ("false", "true"):
        out = tmp_path / f"run-{packing}"
        argv = ["train", "--config", str(config), "--train_file", "", "--dataset_name", str(folder), "--output_dir", str(out),
                "--max_steps", "4", "--logging_steps", "2", "--eval_file", "", "--packing", packing, "--cost_batches", "0"]  # fmt: skip
        assert main(argv) == 0
        assert json.loads((out / "metrics.json").read_text())["train_examples"] == 40
        logs[packing] = [entry for entry in json.loads((out / "trainer_state.json").read_text())["log_history"] if "stp_loss" in entry]
    assert len(logs["true"]) == len(logs["false"]) > 0
    for packed, padded in zip(logs["true"], logs["false"]):
        assert packed["ntp_loss"] == pytest.approx(padded["ntp_loss"], rel=1e-4)
        assert packed["stp_loss"] == pytest.approx(padded["stp_loss"], rel=1e-4)


def test_dataset_name_and_train_file_together_are_an_error(capsys):
    assert main(["train", "--output_dir", "o", "--train_file", "a.jsonl", "--dataset_name", "d"]) == 2
    assert "train_file and dataset_name both given" in capsys.readouterr().err


def test_packing_with_a_method_that_reads_whole_rows_is_a_config_error(setup, tmp_path, capsys):
    root, model_dir, config = setup
    argv = ["train", "--config", str(config), "--output_dir", str(tmp_path / "o"), "--packing", "true", "--method", "curvature"]
    assert main(argv) == 2
    assert "packing: method=curvature" in capsys.readouterr().err


def test_training_on_from_a_folder_continues_its_predictor(setup, tmp_path):
    _, _, config = setup
    first, second = tmp_path / "first", tmp_path / "second"
    options = ["--predictor", "linear", "--max_steps", "2", "--eval_file", "", "--cost_batches", "0"]
    assert main(["train", "--config", str(config), "--output_dir", str(first), *options]) == 0
    trained = load_file(first / "stp_predictor.safetensors")["weight"]
    assert main(["train", "--config", str(config), "--output_dir", str(second), "--model_name_or_path", str(first), *options,
                 "--learning_rate", "0"]) == 0  # fmt: skip
    assert torch.equal(load_file(second / "stp_predictor.safetensors")["weight"], trained)
