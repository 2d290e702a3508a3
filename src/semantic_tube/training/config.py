"""Configuration of a training run: three dataclasses read by HfArgumentParser from a YAML
preset plus command-line overrides (`stp train --config configs/x.yaml --stp_lambda 0.04`).

`STPTrainingArguments` extends `transformers.TrainingArguments`, so every Trainer option
(schedules, accumulation, checkpoints, `report_to`, bf16, ...) works from the config.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import Enum

import torch
from transformers import TrainingArguments

from semantic_tube.data.chat import LabelMode
from semantic_tube.data.nlrx import DEFAULT_EXAMPLES, DEFAULT_SEED
from semantic_tube.evaluation.tasks import TASKS
from semantic_tube.losses.sampling import STPForm


class ConfigError(ValueError):
    """A configuration value this project rejects, naming the field."""


class Finetuning(str, Enum):
    FULL = "full"
    LORA = "lora"


class InvalidLines(str, Enum):
    """What to do with a data line that cannot be trained on."""

    ERROR = "error"  # stop with the file, line and field
    SKIP = "skip"  # leave it out and count it in the log


@dataclass
class ModelArguments:
    _argument_group_name = "model"

    model_name_or_path: str | None = field(
        default=None,
        metadata={"help": "Hugging Face id, local folder or .gguf file; empty = the embedded SmolLM2-135M-Instruct"},
    )
    dtype: str = field(
        default="auto",
        metadata={
            "help": "dtype the weights are loaded in; auto = float32 (master weights; on CUDA, --bf16 autocast does the "
            "bf16 math); bfloat16 = pure bf16 training, on request only (AdamW updates under half a bf16 ulp are lost)",
            "choices": ["auto", "float32", "bfloat16", "float16"],
        },
    )
    finetuning: Finetuning = field(default=Finetuning.FULL, metadata={"help": "full fine-tuning or a LoRA adapter (peft)"})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank"})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA scaling numerator"})
    lora_dropout: float = field(default=0.05, metadata={"help": "LoRA dropout"})
    lora_target_modules: str = field(
        default="all-linear", metadata={"help": "comma-separated module names, or all-linear"}
    )
    use_peft: bool = field(default=False, metadata={"help": "TRL's name for --finetuning lora"})

    def __post_init__(self):
        self.finetuning = Finetuning(self.finetuning)
        if self.use_peft:
            self.finetuning = Finetuning.LORA


@dataclass
class DataArguments:
    _argument_group_name = "data"

    train_file: str | None = field(
        default=None,
        metadata={"help": "messages-format JSONL; empty = generated NL-RX data (see nlrx_*), written into output_dir/data"},
    )
    eval_file: str | None = field(default=None, metadata={"help": "messages-format JSONL for the eval loss"})
    max_length: int = field(default=512, metadata={"help": "tokens per example; an answer cut by it is an error (or skipped)"})
    label_mode: LabelMode = field(
        default=LabelMode.ANSWER,
        metadata={
            "help": "which tokens get the NTP loss. answer: the answer and its end-of-turn token (this project's default; "
            "the paper does not say); all: every token; reference: as the public reference code's collator, every "
            "token except those equal to the eos id (like-for-like with the paper's numbers)"
        },
    )
    use_views: bool = field(
        default=True,
        metadata={"help": "run STP from a line's `text` view to its `code` view when it has them (Appendix G); false: query to answer"},
    )
    chat_template_kwargs: dict | str | None = field(
        default=None,
        metadata={"help": 'keyword arguments for apply_chat_template, as JSON (e.g. \'{"enable_thinking": false}\'); used in training and evaluation'},
    )
    invalid_lines: InvalidLines = field(default=InvalidLines.ERROR, metadata={"help": "error or skip bad data lines"})
    assistant_only_loss: bool | None = field(
        default=None, metadata={"help": "TRL's name: true = --label_mode answer, false = --label_mode all"}
    )
    completion_only_loss: bool | None = field(
        default=None, metadata={"help": "TRL's name: true = --label_mode answer, false = --label_mode all"}
    )
    train_fraction: float = field(
        default=1.0,
        metadata={"help": "train on this fraction of train_file, a seeded subset nested across fractions (Sec. 4.3)"},
    )
    train_subset_seed: int = field(
        default=0, metadata={"help": "seed of the train_fraction subset; the same for every method and training seed"}
    )
    nlrx_examples: int = field(default=DEFAULT_EXAMPLES, metadata={"help": "generated NL-RX examples (train + test) when no train_file"})
    nlrx_seed: int = field(default=DEFAULT_SEED, metadata={"help": "seed of the generated NL-RX data"})

    def __post_init__(self):
        self.label_mode = LabelMode(self.label_mode)
        self.invalid_lines = InvalidLines(self.invalid_lines)
        self._apply_trl_loss_names()
        if not 0 < self.train_fraction <= 1:
            raise ConfigError(f"train_fraction must be in (0, 1], got {self.train_fraction}")
        if isinstance(self.chat_template_kwargs, str):
            try:
                self.chat_template_kwargs = json.loads(self.chat_template_kwargs)
            except json.JSONDecodeError as err:
                raise ConfigError(f"chat_template_kwargs: not JSON ({err.msg}): {self.chat_template_kwargs!r}") from None
        if self.chat_template_kwargs is not None and not isinstance(self.chat_template_kwargs, dict):
            raise ConfigError(f"chat_template_kwargs: expected a mapping, got {self.chat_template_kwargs!r}")

    def _apply_trl_loss_names(self) -> None:
        """Map TRL's assistant_only_loss / completion_only_loss onto label_mode (both mean: NTP on
        the answer only); two that disagree are an error, not a silent pick."""
        given = {name: value for name in ("assistant_only_loss", "completion_only_loss") if (value := getattr(self, name)) is not None}
        if len(set(given.values())) > 1:
            raise ConfigError(f"assistant_only_loss and completion_only_loss disagree: {given}")
        if given:
            self.label_mode = LabelMode.ANSWER if next(iter(given.values())) else LabelMode.ALL


@dataclass
class TaskEvalArguments:
    """Scoring a task by generation (the same code as `stp eval`) at the end of training,
    and optionally every `eval_task_steps` steps."""

    _argument_group_name = "task evaluation"

    eval_task: str | None = field(
        default=None, metadata={"help": "task to score at the end of training; empty = none", "choices": list(TASKS)}
    )
    eval_task_file: str | None = field(
        default=None, metadata={"help": "its data; empty = the generated NL-RX test split, else eval_file"}
    )
    eval_task_limit: int | None = field(default=None, metadata={"help": "score only the first N examples"})
    eval_task_steps: int = field(default=0, metadata={"help": "also score every N optimizer steps (0 = only at the end)"})
    eval_task_batch_size: int = field(default=16, metadata={"help": "prompts generated per batch"})
    eval_db_dir: str | None = field(default=None, metadata={"help": "Spider databases: <dir>/<db_id>/<db_id>.sqlite"})

    def __post_init__(self):
        if self.eval_task_steps < 0:
            raise ConfigError(f"eval_task_steps must be >= 0, got {self.eval_task_steps}")
        if self.eval_task:
            from semantic_tube.evaluation import get_task

            get_task(self.eval_task)  # an unknown task fails before any training


def default_bf16(use_cpu: bool, fp16: bool, cuda_supports_bf16: bool) -> bool:
    """bf16 mixed precision unless asked otherwise, where a CUDA device supports it: float32
    master weights keep AdamW's small updates, which pure bf16 weights round away."""
    return cuda_supports_bf16 and not (use_cpu or fp16)


@dataclass
class STPTrainingArguments(TrainingArguments):
    """`transformers.TrainingArguments` plus the STP fields (`stp_*`)."""

    _argument_group_name = "transformers.TrainingArguments (the Trainer's own options)"

    bf16: bool | None = field(
        default=None,
        metadata={
            "help": "bf16 mixed precision: float32 master weights, bf16 autocast; default: on when a CUDA device "
            "supports bf16 (never on CPU, where bf16 autocast is many times slower)"
        },
    )
    stp_lambda: float = field(default=0.02, metadata={"help": "weight of the STP loss; 0 = plain fine-tuning"})
    stp_form: STPForm = field(
        default=STPForm.TUBE,
        metadata={"help": "tube: paper, s<r<t random; anchored: s, t at query start / answer end; span: reference code"},
    )
    stp_draws: int = field(default=1, metadata={"help": "triplets (or spans) drawn per example per step"})
    stp_layer: int = field(default=-1, metadata={"help": "hidden-state layer the loss reads (-1 = last)"})
    stp_skip_gap: bool = field(
        default=True,
        metadata={
            "help": "bypass the template tokens between query and answer in every displacement (Appendix G); "
            "false measures straight across them (for comparison only)"
        },
    )
    stp_log_when_off: bool = field(
        default=False, metadata={"help": "with stp_lambda=0, still compute and log STP (no gradient), as in Fig. 4a"}
    )
    def __post_init__(self):
        if self.bf16 is None:
            self.bf16 = default_bf16(self.use_cpu, self.fp16, torch.cuda.is_available() and torch.cuda.is_bf16_supported())
        super().__post_init__()
        if self.stp_lambda < 0:
            raise ConfigError(f"stp_lambda must be >= 0, got {self.stp_lambda}")
        if self.stp_draws < 1:
            raise ConfigError(f"stp_draws must be >= 1, got {self.stp_draws}")
        self.stp_form = STPForm(self.stp_form)

    @property
    def stp_active(self) -> bool:
        """Whether STP is computed at all (with gradient when stp_lambda > 0)."""
        return self.stp_lambda > 0 or self.stp_log_when_off
