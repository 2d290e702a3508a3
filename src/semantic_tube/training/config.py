"""Configuration of a training run: three dataclasses read by HfArgumentParser from a YAML
preset plus command-line overrides (`stp train --config configs/x.yaml --stp_lambda 0.04`).

`STPTrainingArguments` extends `transformers.TrainingArguments`, so every Trainer option
(schedules, accumulation, checkpoints, `report_to`, bf16, ...) works from the config.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import math
import typing
from dataclasses import dataclass, field
from enum import Enum

import torch
from transformers import TrainingArguments

from semantic_tube.data.chat import LabelMode
from semantic_tube.data.nlrx import DEFAULT_EXAMPLES, DEFAULT_SEED
from semantic_tube.evaluation.arguments import TaskGenerationArguments
from semantic_tube.losses.sampling import GapOrigin, STPForm
from semantic_tube.methods.options import (
    CurvatureAngle,
    DrawScope,
    MaskTarget,
    Method,
    Predictor,
    PredictorTarget,
    STPGap,
    Trajectory,
    TwoViewPool,
    forward_passes_per_step,
)

logger = logging.getLogger(__name__)


class ConfigError(ValueError):
    """A configuration value this project rejects, naming the field."""


class Finetuning(str, Enum):
    FULL = "full"
    LORA = "lora"


class ModelDtype(str, Enum):
    """The dtype a model's weights are loaded in, with one meaning in every command: `stp train`,
    its task evaluation (which scores the trained weights as they are) and `stp eval`."""

    # float32 on every device. Training keeps float32 master weights (on CUDA the bf16 math comes
    # from --bf16 autocast), and `stp eval` then scores a model as the run's own evaluation did.
    AUTO = "auto"
    FLOAT32 = "float32"
    BFLOAT16 = "bfloat16"  # pure bf16, on request: faster generation; in training, AdamW updates under half a bf16 ulp are lost
    FLOAT16 = "float16"

    @property
    def torch_dtype(self) -> torch.dtype:
        return {"auto": torch.float32, "float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[self.value]


class NTPLogits(str, Enum):
    """Which positions the NTP loss computes logits for (`stp train`'s trainer)."""

    LABELLED = "labelled"  # those whose next token carries a label: the same loss, less LM-head work
    ALL = "all"  # every position (the Trainer's own loss)


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
    dtype: ModelDtype = field(
        default=ModelDtype.AUTO,
        metadata={
            "help": "dtype the weights are loaded in, by stp train and stp eval alike; auto = float32 on every device (on "
            "CUDA, training's --bf16 autocast does the bf16 math over float32 master weights); bfloat16 = pure bf16, on "
            "request only (faster generation; in training, AdamW updates under half a bf16 ulp are lost)"
        },
    )
    finetuning: Finetuning = field(default=Finetuning.FULL, metadata={"help": "full fine-tuning or a LoRA adapter (peft)"})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank"})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA scaling numerator"})
    lora_dropout: float = field(default=0.05, metadata={"help": "LoRA dropout"})
    lora_target_modules: str = field(
        default="all-linear", metadata={"help": "comma-separated module names (a list in YAML), or all-linear"}
    )
    use_peft: bool = field(default=False, metadata={"help": "TRL's name for --finetuning lora"})
    model_init_kwargs: dict | str | None = field(
        default=None,
        metadata={
            "help": "keyword arguments for from_pretrained, as JSON, like TRL's model_init_kwargs (e.g. "
            '\'{"attn_implementation": "eager", "trust_remote_code": true}\'); its trust_remote_code and revision also '
            "load the tokenizer; a dtype in it sets --dtype (giving both is an error)"
        },
    )

    def __post_init__(self):
        check_numbers(self, MODEL_RANGES)
        self.finetuning = Finetuning(self.finetuning)
        self.dtype = self.as_dtype(self.dtype)
        if self.use_peft:
            self.finetuning = Finetuning.LORA
        if isinstance(self.lora_target_modules, (list, tuple)):  # TRL's configs write a list
            self.lora_target_modules = ",".join(str(name).strip() for name in self.lora_target_modules)
        if isinstance(self.model_init_kwargs, str):
            try:
                self.model_init_kwargs = json.loads(self.model_init_kwargs)
            except json.JSONDecodeError as err:
                raise ConfigError(f"model_init_kwargs: not JSON ({err.msg}): {self.model_init_kwargs!r}") from None
        if self.model_init_kwargs is not None and not isinstance(self.model_init_kwargs, dict):
            raise ConfigError(f"model_init_kwargs: expected a mapping, got {self.model_init_kwargs!r}")
        if self.model_init_kwargs is not None:
            self.dtype, self.model_init_kwargs = self.init_dtype(self.dtype, self.model_init_kwargs)

    @staticmethod
    def as_dtype(value, where: str = "dtype") -> ModelDtype:
        try:
            return ModelDtype(value)
        except ValueError:
            raise ConfigError(f"{where}: expected one of {[dtype.value for dtype in ModelDtype]}, got {value!r}") from None

    @staticmethod
    def init_dtype(dtype: ModelDtype | str, model_init_kwargs: dict) -> tuple[ModelDtype, dict]:
        """(dtype, the other kwargs): a `dtype` (or `torch_dtype`) inside model_init_kwargs moved to the
        dtype field, one of its choices; a ConfigError naming both when the field is set too (not auto)."""
        dtype = ModelArguments.as_dtype(dtype)
        given = {key: model_init_kwargs[key] for key in ("dtype", "torch_dtype") if key in model_init_kwargs}
        if not given:
            return dtype, dict(model_init_kwargs)
        shown = ", ".join(f"model_init_kwargs[{key!r}]={value!r}" for key, value in given.items())
        if dtype is not ModelDtype.AUTO or len(given) > 1:
            raise ConfigError(f"dtype given twice: dtype={dtype.value!r} and {shown}; set it in one place")
        value = str(next(iter(given.values()))).removeprefix("torch.")  # torch.bfloat16 or "bfloat16"
        return ModelArguments.as_dtype(value, shown), {key: item for key, item in model_init_kwargs.items() if key not in given}


@dataclass
class DataArguments:
    _argument_group_name = "data"

    train_file: str | None = field(
        default=None,
        metadata={
            "help": "JSONL of messages (or prompt/completion) rows; empty (and no dataset_name) = generated NL-RX data "
            "(see nlrx_*), written into output_dir/data"
        },
    )
    eval_file: str | None = field(default=None, metadata={"help": "messages-format JSONL for the eval loss"})
    dataset_name: str | None = field(
        default=None,
        metadata={
            "help": "instead of train_file: a local `datasets` data set (a save_to_disk folder, or a path datasets.load_dataset "
            "reads) of messages or prompt/completion rows; its train split"
        },
    )
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
    packing: bool = field(
        default=False,
        metadata={
            "help": "put each batch's examples one after the other in one row, without padding (TRL's padding-free layout): "
            "position ids restart per example so attention stays per example, spans are per example; the same batches "
            "and losses as padded (methods stp and two-view)"
        },
    )
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
    max_train_examples: int | None = field(
        default=None,
        metadata={
            "help": "train on at most this many examples of train_file: a seeded subset (train_subset_seed) taken before "
            "train_fraction and nested with it, so a large file can stand in for a small data set"
        },
    )
    train_subset_seed: int = field(
        default=0, metadata={"help": "seed of the train_fraction subset; the same for every method and training seed"}
    )
    nlrx_examples: int = field(default=DEFAULT_EXAMPLES, metadata={"help": "generated NL-RX examples (train + test) when no train_file"})
    nlrx_seed: int = field(default=DEFAULT_SEED, metadata={"help": "seed of the generated NL-RX data"})

    def __post_init__(self):
        check_numbers(self, DATA_RANGES)
        self.label_mode = LabelMode(self.label_mode)
        self.invalid_lines = InvalidLines(self.invalid_lines)
        self._apply_trl_loss_names()
        if not 0 < self.train_fraction <= 1:
            raise ConfigError(f"train_fraction must be in (0, 1], got {self.train_fraction}")
        if self.max_train_examples is not None and self.max_train_examples < 1:
            raise ConfigError(f"max_train_examples must be >= 1, got {self.max_train_examples}")
        if self.train_file and self.dataset_name:
            raise ConfigError(f"train_file and dataset_name both given ({self.train_file}, {self.dataset_name}); give one")
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


class EvalRanks(str, Enum):
    """Which processes generate during a launched run's task evaluation."""

    ALL = "all"  # each its share of the prompts
    MAIN = "main"  # rank 0 alone


@dataclass
class TaskEvalArguments(TaskGenerationArguments):
    """Scoring a task by generation at the end of training, and optionally every `eval_task_steps`
    steps: the same code and the same options (`TaskGenerationArguments`) as `stp eval`."""

    _argument_group_name = "task evaluation"

    eval_task_steps: int = field(default=0, metadata={"help": "also score every N optimizer steps (0 = only at the end)"})
    eval_task_ranks: EvalRanks = field(
        default=EvalRanks.ALL,
        metadata={
            "help": "under a launcher, all: every process generates its share of the prompts (gathered in order, rank 0 "
            "writes); main: rank 0 generates them all while the others wait at their next collective (keep it under "
            "the backend's timeout)"
        },
    )

    def __post_init__(self):
        super().__post_init__()  # an unknown task fails before any training
        check_numbers(self, TASK_RANGES)
        self.eval_task_ranks = EvalRanks(self.eval_task_ranks)
        if self.eval_task_steps < 0:
            raise ConfigError(f"eval_task_steps must be >= 0, got {self.eval_task_steps}")


def default_bf16(use_cpu: bool, fp16: bool, cuda_supports_bf16: bool) -> bool:
    """bf16 mixed precision unless asked otherwise, where a CUDA device supports it: float32
    master weights keep AdamW's small updates, which pure bf16 weights round away."""
    return cuda_supports_bf16 and not (use_cpu or fp16)


@dataclass
class STPArguments:
    """The method's fields (`method`, the `stp_*` fields and every method option), defined and
    checked once, shared by `STPTrainingArguments` (with `transformers.TrainingArguments`) and
    `semantic_tube.trl.STPSFTConfig` (with `trl.SFTConfig`).

    A mixin listed first among a dataclass's bases: its `__post_init__` runs the other base's
    `__post_init__` first, then checks these fields.
    """

    method: Method = field(
        default=Method.STP,
        metadata={
            "help": "what is added to NTP, weighted by stp_lambda: ntp (nothing), stp (the paper), llm-jepa, two-view, "
            "mask, curvature (Sec. 4.6, Appendix L)"
        },
    )
    stp_lambda: float = field(default=0.02, metadata={"help": "weight of the method's loss (STP or the variant's); 0 = plain fine-tuning"})
    stp_lambda_warmup_ratio: float = field(
        default=0.0,
        metadata={"help": "raise lambda linearly from 0 over this fraction of training (1 = throughout: Appendix L's Warmup); any method"},
    )
    stp_form: STPForm = field(
        default=STPForm.TUBE,
        metadata={
            "help": "stp: tube (paper: s<r<t random); anchored (s, t at query start / answer end); zero (s = 0, Appendix L); "
            "span (the reference code)"
        },
    )
    stp_draws: int = field(default=1, metadata={"help": "stp: triplets (or spans) drawn per example per step"})
    stp_layer: int = field(default=-1, metadata={"help": "hidden-state layer every method reads (-1 = last)"})
    stp_gap: STPGap | None = field(
        default=None,
        metadata={
            "help": "the template tokens between query and answer in every displacement (Appendix G): answer_start "
            "(bypassed, restarting at h_r' on the answer's first token: the paper), before_answer (bypassed, restarting "
            "at the state before it: the reference code) or none (straight across them, for comparison only); empty = "
            "answer_start, or before_answer with stp_form=span. Replaces stp_skip_gap (false = none) and stp_gap_origin"
        },
    )
    trajectory: Trajectory = field(
        default=Trajectory.CONTENT,
        metadata={"help": "content: query and answer only; inst: the system prompt too (Appendix L Inst); stp, two-view, mask, curvature"},
    )
    stp_draw_scope: DrawScope = field(
        default=DrawScope.CONVERSATION,
        metadata={
            "help": "stp: where a conversation's draws come from (a row of one exchange draws the same under both): "
            "conversation (one trajectory over every content turn in order, each template stretch between two turns "
            "bypassed: the paper's single-turn trajectory, query then answer, carried on over the whole row, each draw "
            "uniform over it) or exchange (each draw within one exchange, a user turn's content then its assistant "
            "turn's, the gap between them bypassed; the exchange uniform among the row's, the earlier turns context only)"
        },
    )
    predictor: Predictor = field(
        default=Predictor.IDENTITY,
        metadata={"help": "identity (the paper) or linear: a trained d x d matrix (Appendix L Pred); stp, two-view, mask, llm-jepa"},
    )
    predictor_target: PredictorTarget = field(
        default=PredictorTarget.APPENDIX_L,
        metadata={
            "help": "with predictor=linear, what P(h_r - h_s) is compared with: appendix_l: h_t - h_s (Appendix L); "
            "section_4_6: h_t - h_r (Sec. 4.6); stp, two-view"
        },
    )
    two_view_pool: TwoViewPool = field(
        default=TwoViewPool.DISPLACEMENT,
        metadata={"help": "two-view: displacement (h_r - h_0 vs h_t - h_r) or mean (mean states of s..r and r..t)"},
    )
    mask_target: MaskTarget = field(
        default=MaskTarget.SPAN, metadata={"help": "mask: span (g_t along h_r - h_s) or full (g_t along h_t)"}
    )
    curvature_angle: CurvatureAngle = field(
        default=CurvatureAngle.ABSOLUTE, metadata={"help": "curvature: absolute (|theta_i|) or signed (theta_i, Appendix L Sign)"}
    )
    jepa_predictor_tokens: int = field(
        default=0, metadata={"help": "llm-jepa: k predictor tokens appended to the query view (new special tokens)"}
    )
    jepa_single_pass: bool = field(
        default=False,
        metadata={"help": "llm-jepa: encode both views in one extra pass (block-diagonal 4D mask) instead of two"},
    )
    jepa_last_token: int | None = field(
        default=None,
        metadata={
            "help": "llm-jepa: Enc at this offset from the end of each rendered view (the reference's last_token, e.g. -2 "
            "for Llama); empty = the view's last content token"
        },
    )
    stp_log_when_off: bool = field(
        default=False, metadata={"help": "with stp_lambda=0 or method=ntp, still compute and log STP (no gradient), as in Fig. 4a"}
    )
    stp_log_forms: str | None = field(
        default=None,
        metadata={
            "help": "stp, ntp: also log these STP forms (comma-separated, a list in YAML; e.g. tube,span) as stp_<form>_loss, "
            "computed on the main pass's hidden states without gradient (no extra forward pass; the trained form's is "
            "stp_loss itself); each form draws on its own streams with its own gap origin; with stp_lambda=0 or "
            "method=ntp it logs them as stp_log_when_off does"
        },
    )
    stp_log_grad_balance: bool = field(
        default=False,
        metadata={
            "help": "at each logging step, log the L2 norms of NTP's gradient and of lambda times the method's gradient on "
            "the step's first micro-batch (grad_norm_ntp, grad_norm_aux) and their ratio (grad_balance); costs two extra "
            "backward passes at logging steps only"
        },
    )
    treatment_batches: int = field(
        default=4,
        metadata={
            "help": "measure the losses (NTP, the method's, any logged STP forms) on the first N batches of the training "
            "data, in order and with fixed draws, before and after training: metrics.json's treatment/* and the summary's "
            "treatment line say how far the method's loss fell; 0 = skip"
        },
    )
    cost_batches: int = field(
        default=2,
        metadata={
            "help": "after training, time this many batches with the method and with NTP alone (forward and backward, "
            "no update) and record the ratio in metrics.json; 0 = skip"
        },
    )

    def __post_init__(self):
        parent = getattr(super(), "__post_init__", None)
        if parent is not None:
            parent()  # the Trainer's own arguments first (TrainingArguments, SFTConfig)
        check_numbers(self, {**METHOD_RANGES, **TRAINER_RANGES})
        if self.stp_lambda < 0:
            raise ConfigError(f"stp_lambda must be >= 0, got {self.stp_lambda}")
        if self.stp_draws < 1:
            raise ConfigError(f"stp_draws must be >= 1, got {self.stp_draws}")
        if not 0 <= self.stp_lambda_warmup_ratio <= 1:
            raise ConfigError(f"stp_lambda_warmup_ratio must be in [0, 1], got {self.stp_lambda_warmup_ratio}")
        if self.jepa_predictor_tokens < 0:
            raise ConfigError(f"jepa_predictor_tokens must be >= 0, got {self.jepa_predictor_tokens}")
        if self.treatment_batches < 0:
            raise ConfigError(f"treatment_batches must be >= 0, got {self.treatment_batches}")
        if self.cost_batches < 0:
            raise ConfigError(f"cost_batches must be >= 0, got {self.cost_batches}")
        for name in ("stp_log_forms", *_enum_fields()):
            setattr(self, name, option_value(name, getattr(self, name)))
        if self.stp_log_grad_balance and not self.aux_trained:
            raise ConfigError(
                f"stp_log_grad_balance needs a trained auxiliary loss (method={self.method.value}, stp_lambda={self.stp_lambda}): "
                "it compares lambda times that loss's gradient with NTP's"
            )
        check_method_options(self)

    @property
    def gap_origin(self) -> GapOrigin | None:
        """Where the trained form's displacements restart after the template gap (`gap_origin_of`)."""
        return self.gap_origin_of(self.stp_form)

    def gap_origin_of(self, form: STPForm) -> GapOrigin | None:
        """Where a displacement of `form` restarts after the template gap, None straight across it
        (stp_gap=none): stp_gap's origin, else the form's own (the reference code's before_answer
        for span, Appendix G's answer_start for every other). A span form logged beside another
        (stp_log_forms) keeps its own, as it would if trained."""
        if self.stp_gap is STPGap.NONE:
            return None
        if form is STPForm.SPAN:
            return GapOrigin.BEFORE_ANSWER
        return self.stp_gap.origin if self.stp_gap is not None else GapOrigin.ANSWER_START

    @property
    def stp_logged_when_off(self) -> bool:
        """Whether STP is computed without gradient when it is not trained (stp_log_when_off, stp_log_forms)."""
        return self.stp_log_when_off or bool(self.stp_log_forms)

    @property
    def stp_active(self) -> bool:
        """Whether the method's loss is computed at all (with gradient when it counts: stp_lambda > 0)."""
        return self.aux_trained or self.stp_logged_when_off

    @property
    def aux_trained(self) -> bool:
        """Whether the method's loss is added to NTP (with gradient)."""
        return self.method is not Method.NTP and self.stp_lambda > 0

    @property
    def forward_passes_per_step(self) -> int:
        """Model forward passes per training step, the main one included (1 unless the method's
        trained loss needs its own: mask, llm-jepa)."""
        return forward_passes_per_step(self.method, self.jepa_single_pass) if self.aux_trained else 1


@dataclass
class STPTrainingArguments(STPArguments, TrainingArguments):
    """`transformers.TrainingArguments` plus the method's fields (`STPArguments`)."""

    _argument_group_name = "transformers.TrainingArguments (the Trainer's own options)"

    bf16: bool | None = field(
        default=None,
        metadata={
            "help": "bf16 mixed precision: float32 master weights, bf16 autocast; default: on when a CUDA device "
            "supports bf16 (never on CPU, where bf16 autocast is many times slower)"
        },
    )
    ntp_logits: NTPLogits = field(
        default=NTPLogits.LABELLED,
        metadata={
            "help": "labelled: run the LM head only on the positions whose next token has a label (the same NTP loss, "
            "without the prompt's logits; needs a model whose forward takes logits_to_keep, else all); all: every "
            "position, as the Trainer's own loss"
        },
    )

    def __post_init__(self):
        self.ntp_logits = NTPLogits(self.ntp_logits)
        if self.bf16 is None:
            self.bf16 = default_bf16(self.use_cpu, self.fp16, torch.cuda.is_available() and torch.cuda.is_bf16_supported())
        super().__post_init__()


_TRAJECTORY_METHODS = {Method.STP, Method.TWO_VIEW, Method.MASK, Method.CURVATURE}
# The methods each option applies to (Appendix L's table of options); its default and type are its
# field's. Set away from that default for another method, it is a ConfigError (`check_method_options`).
OPTION_METHODS = {
    "stp_form": {Method.STP, Method.NTP},
    "stp_draws": {Method.STP, Method.NTP},
    "stp_log_forms": {Method.STP, Method.NTP},
    "stp_draw_scope": {Method.STP, Method.NTP},
    "stp_gap": _TRAJECTORY_METHODS | {Method.NTP},
    "trajectory": _TRAJECTORY_METHODS | {Method.NTP},
    "predictor": {Method.STP, Method.TWO_VIEW, Method.MASK, Method.LLM_JEPA},
    "predictor_target": {Method.STP, Method.TWO_VIEW},
    "two_view_pool": {Method.TWO_VIEW},
    "mask_target": {Method.MASK},
    "curvature_angle": {Method.CURVATURE},
    "jepa_predictor_tokens": {Method.LLM_JEPA},
    "jepa_single_pass": {Method.LLM_JEPA},
    "jepa_last_token": {Method.LLM_JEPA},
}

# What method=ntp reads only to log STP (stp_log_when_off).
_LOGGED_STP_OPTIONS = ("stp_form", "stp_draws", "stp_gap", "trajectory", "stp_draw_scope")

# Fields of older configs (the committed results' stp_config.yaml among them) and the one that
# replaced them; `upgrade_replaced_fields` reads them onto it.
REPLACED_FIELDS = {"stp_skip_gap": "stp_gap", "stp_gap_origin": "stp_gap"}


@functools.cache
def _enum_fields() -> dict[str, type[Enum]]:
    """STPArguments' enum fields (optional ones too) and their enums, read from the annotations."""
    hints = typing.get_type_hints(STPArguments)
    kinds = {}
    for item in dataclasses.fields(STPArguments):
        for kind in typing.get_args(hints[item.name]) or (hints[item.name],):
            if isinstance(kind, type) and issubclass(kind, Enum):
                kinds[item.name] = kind
    return kinds


def option_value(name: str, value):
    """A method field's value in its own type: an enum field's member (None only where the field's
    default is None), stp_log_forms' tuple of forms, anything else as it is."""
    if name == "stp_log_forms":
        return parse_forms(value)
    kind = _enum_fields().get(name)
    if kind is None or isinstance(value, kind) or (value is None and STPArguments.__dataclass_fields__[name].default is None):
        return value
    try:
        return kind(value)
    except ValueError:
        raise ConfigError(f"{name}: {value!r} is not one of {[member.value for member in kind]}") from None


def option_default(name: str):
    """A method field's default, in its own type (`option_value`)."""
    return option_value(name, STPArguments.__dataclass_fields__[name].default)


def _shown(value) -> str:
    return "empty" if value is None else str(value.value if isinstance(value, Enum) else value).lower()


def upgrade_replaced_fields(values: dict, where: str = "") -> dict:
    """A config's values with stp_skip_gap and stp_gap_origin (older configs' fields) read as the
    stp_gap they stand for, logged with their replacement: skip false is none, an origin is that
    origin, skip true alone (or both empty) leaves stp_gap to the form. A ConfigError names both
    fields when they contradict each other, or a stp_gap given beside them. `where` prefixes messages."""
    old = {name: values[name] for name in REPLACED_FIELDS if name in values}
    if not old:
        return values
    values = {key: value for key, value in values.items() if key not in old}
    shown = ", ".join(f"{name}={_shown(value)}" for name, value in old.items())
    skip = old.get("stp_skip_gap")
    skip = True if skip is None else skip if isinstance(skip, bool) else str(skip).lower() in ("true", "yes", "1")
    origin = old.get("stp_gap_origin")
    if origin not in (None, ""):
        try:
            origin = GapOrigin(origin)
        except ValueError:
            raise ConfigError(f"{where}stp_gap_origin: {origin!r} is not one of {[o.value for o in GapOrigin]} (it is replaced by stp_gap)") from None
        if not skip:
            raise ConfigError(
                f"{where}{shown}: stp_gap_origin needs stp_skip_gap=true (straight across there is no gap to restart after); "
                f"both are replaced by stp_gap: give stp_gap={origin.value} or stp_gap=none"
            )
    gap = STPGap.NONE if not skip else STPGap(origin.value) if origin not in (None, "") else None
    if values.get("stp_gap") is not None:
        given = option_value("stp_gap", values["stp_gap"])
        if given is not gap and (gap is not None or given is STPGap.NONE):
            raise ConfigError(
                f"{where}{shown} and stp_gap={given.value} disagree: stp_gap replaces stp_skip_gap and stp_gap_origin; give stp_gap alone"
            )
        gap = given
    read = f"stp_gap={gap.value}" if gap is not None else "stp_gap empty (the form's own: answer_start, or before_answer for span)"
    logger.warning("%s%s: replaced by stp_gap; read as %s", where, shown, read)
    return {**values, "stp_gap": None if gap is None else gap.value}


def parse_forms(value) -> tuple[STPForm, ...]:
    """stp_log_forms: None, "tube,span" or a list -> the forms, each once, in the order given."""
    if value is None or value == "":
        return ()
    names = value.split(",") if isinstance(value, str) else list(value)
    forms = []
    for name in names:
        name = name.value if isinstance(name, STPForm) else str(name).strip()
        try:
            form = STPForm(name)
        except ValueError:
            raise ConfigError(f"stp_log_forms: {name!r} is not one of {[form.value for form in STPForm]}") from None
        if form not in forms:
            forms.append(form)
    return tuple(forms)


def check_method_options(args) -> None:
    """An option set away from its default for a method it does not apply to is a ConfigError
    naming both fields (a predictor with curvature, say), never silently ignored."""
    for name, methods in OPTION_METHODS.items():
        value = getattr(args, name)
        if value != option_default(name) and args.method not in methods:
            shown = value.value if isinstance(value, Enum) else value
            allowed = ", ".join(sorted(m.value for m in methods))
            raise ConfigError(f"{name}={shown} does not apply to method={args.method.value} (only to: {allowed})")
    if args.method is Method.NTP and not args.stp_logged_when_off:
        for name in _LOGGED_STP_OPTIONS:
            value = getattr(args, name)
            if value != option_default(name):
                shown = value.value if isinstance(value, Enum) else value
                raise ConfigError(f"{name}={shown} applies to method=ntp only with stp_log_when_off=true (it sets how the logged STP is measured)")
    if args.predictor_target is not PredictorTarget.APPENDIX_L and args.predictor is not Predictor.LINEAR:
        raise ConfigError(f"predictor_target={args.predictor_target.value} needs predictor=linear (got predictor={args.predictor.value})")
    if args.two_view_pool is TwoViewPool.MEAN and args.predictor_target is not PredictorTarget.APPENDIX_L:
        raise ConfigError(f"predictor_target={args.predictor_target.value} does not apply to two_view_pool=mean (one pooled vector per view)")
    if args.stp_form is STPForm.SPAN and args.predictor_target is not PredictorTarget.APPENDIX_L:
        raise ConfigError(
            f"predictor_target={args.predictor_target.value} does not apply to stp_form=span (its predictor maps the rest of the "
            "trajectory, as the reference code's does)"
        )
    if args.stp_form is STPForm.SPAN and args.stp_gap is STPGap.ANSWER_START:
        raise ConfigError(
            "stp_gap=answer_start does not apply to stp_form=span: its points are the reference code's states before each "
            "token, whose gap restarts before the answer (before_answer, or none: straight across)"
        )
    if args.stp_gap is not None and args.method is Method.TWO_VIEW and args.two_view_pool is TwoViewPool.MEAN:
        raise ConfigError(
            f"stp_gap={args.stp_gap.value} does not apply to two_view_pool=mean (its means are over the query's and the "
            "answer's own states: no displacement crosses the gap)"
        )


# -------------------------------------------------------------------------------------------
# Numbers: finite and in range where they are parsed. A YAML `.nan` passes a `< 0` check (every
# comparison with NaN is false) and a negative max_length passes the parser, to fail only when the
# data is read; every numeric field is checked here instead, with the field named.


@dataclass(frozen=True)
class Range:
    """The values a numeric field takes: [low, high] (either end open, or absent), an integer or
    any number, None allowed or not."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    integer: bool = False
    optional: bool = False

    def bounds(self) -> str:
        """`>= 0`, `in (0, 1]` ...; empty for an unbounded field."""
        if self.low is not None and self.high is not None:
            return f"in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}{')' if self.high_open else ']'}"
        if self.low is not None:
            return f"{'>' if self.low_open else '>='} {self.low:g}"
        if self.high is not None:
            return f"{'<' if self.high_open else '<='} {self.high:g}"
        return ""

    def check(self, name: str, value):
        """The value (an integral float of an integer field as an int), or a ConfigError naming the field."""
        if value is None and self.optional:
            return value
        kind = "an integer" if self.integer else "a finite number"
        expected = f"{kind} {self.bounds()}".rstrip()
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{name} must be {expected}, got {value!r}")
        if not math.isfinite(value) or (self.integer and not float(value).is_integer()):
            raise ConfigError(f"{name} must be {expected}, got {value}")
        low_fails = self.low is not None and (value <= self.low if self.low_open else value < self.low)
        high_fails = self.high is not None and (value >= self.high if self.high_open else value > self.high)
        if low_fails or high_fails:
            raise ConfigError(f"{name} must be {self.bounds()}, got {value:g}")
        return int(value) if self.integer else value


MODEL_RANGES = {
    "lora_r": Range(1, integer=True),
    "lora_alpha": Range(0, low_open=True),
    "lora_dropout": Range(0, 1, high_open=True),
}
DATA_RANGES = {
    "max_length": Range(1, integer=True),
    "train_fraction": Range(0, 1, low_open=True),
    "max_train_examples": Range(1, integer=True, optional=True),
    "train_subset_seed": Range(integer=True),
    "nlrx_examples": Range(2, integer=True),
    "nlrx_seed": Range(integer=True),
}
TASK_RANGES = {
    "eval_task_limit": Range(1, integer=True, optional=True),
    "eval_task_steps": Range(0, integer=True),
    "eval_task_batch_size": Range(1, integer=True),
}
METHOD_RANGES = {
    "stp_lambda": Range(0),
    "stp_lambda_warmup_ratio": Range(0, 1),
    "stp_draws": Range(1, integer=True),
    "stp_layer": Range(integer=True),
    "jepa_predictor_tokens": Range(0, integer=True),
    "jepa_last_token": Range(integer=True, optional=True),
    "treatment_batches": Range(0, integer=True),
    "cost_batches": Range(0, integer=True),
}
TRAINER_RANGES = {  # the Trainer's most used numbers, which it mostly does not check
    "learning_rate": Range(0),
    "num_train_epochs": Range(0, low_open=True),
    "max_steps": Range(integer=True),
    "per_device_train_batch_size": Range(1, integer=True),
    "per_device_eval_batch_size": Range(1, integer=True),
    "gradient_accumulation_steps": Range(1, integer=True),
    "warmup_steps": Range(0),
    "weight_decay": Range(0),
    "max_grad_norm": Range(0),
    "adam_beta1": Range(0, 1, high_open=True),
    "adam_beta2": Range(0, 1, high_open=True),
    "adam_epsilon": Range(0),
    "logging_steps": Range(0),
    "save_steps": Range(0),
    "seed": Range(integer=True),
}


def check_numbers(config, ranges: dict[str, Range]) -> None:
    """Every numeric field of a config dataclass: those in `ranges` (the class's own table) in
    their range, any other float finite. A ConfigError names the field and the value."""
    for item in dataclasses.fields(config):
        value = getattr(config, item.name, None)
        rule = ranges.get(item.name)
        if rule is not None:
            setattr(config, item.name, rule.check(item.name, value))
        elif isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{item.name} must be a finite number, got {value}")
