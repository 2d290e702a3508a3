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
from semantic_tube.losses.sampling import GapOrigin, STPForm
from semantic_tube.methods.options import (
    CurvatureAngle,
    MaskTarget,
    Method,
    Predictor,
    PredictorTarget,
    Trajectory,
    TwoViewPool,
    forward_passes_per_step,
)


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
        self.finetuning = Finetuning(self.finetuning)
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
    def init_dtype(dtype: str, model_init_kwargs: dict) -> tuple[str, dict]:
        """(dtype, the other kwargs): a `dtype` (or `torch_dtype`) inside model_init_kwargs moved to the
        dtype field, one of its choices; a ConfigError naming both when the field is set too (not auto)."""
        given = {key: model_init_kwargs[key] for key in ("dtype", "torch_dtype") if key in model_init_kwargs}
        if not given:
            return dtype, dict(model_init_kwargs)
        choices = ModelArguments.__dataclass_fields__["dtype"].metadata["choices"]
        shown = ", ".join(f"model_init_kwargs[{key!r}]={value!r}" for key, value in given.items())
        if dtype != "auto" or len(given) > 1:
            raise ConfigError(f"dtype given twice: dtype={dtype!r} and {shown}; set it in one place")
        value = str(next(iter(given.values()))).removeprefix("torch.")  # torch.bfloat16 or "bfloat16"
        if value not in choices:
            raise ConfigError(f"{shown}: expected one of {choices}")
        return value, {key: item for key, item in model_init_kwargs.items() if key not in given}


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
    eval_task_ranks: EvalRanks = field(
        default=EvalRanks.ALL,
        metadata={
            "help": "under a launcher, all: every process generates its share of the prompts (gathered in order, rank 0 "
            "writes); main: rank 0 generates them all while the others wait at their next collective (keep it under "
            "the backend's timeout)"
        },
    )

    def __post_init__(self):
        self.eval_task_ranks = EvalRanks(self.eval_task_ranks)
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
    stp_skip_gap: bool = field(
        default=True,
        metadata={
            "help": "bypass the template tokens between query and answer in every displacement (Appendix G); "
            "false measures straight across them (for comparison only)"
        },
    )
    stp_gap_origin: GapOrigin | None = field(
        default=None,
        metadata={
            "help": "where a displacement across the template gap restarts in the answer: answer_start (Appendix G: "
            "h_r' at the answer's first token) or before_answer (the reference code: the state before it); "
            "empty = answer_start, or before_answer with stp_form=span"
        },
    )
    trajectory: Trajectory = field(
        default=Trajectory.CONTENT,
        metadata={"help": "content: query and answer only; inst: the system prompt too (Appendix L Inst); stp, two-view, mask, curvature"},
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
        self.stp_log_forms = parse_forms(self.stp_log_forms)
        for name, kind in METHOD_OPTION_TYPES.items():
            value = getattr(self, name)
            if value is None and name in OPTIONAL_METHOD_OPTIONS:
                continue
            try:
                setattr(self, name, kind(value))
            except ValueError:
                raise ConfigError(f"{name}: {value!r} is not one of {[v.value for v in kind]}") from None
        if self.stp_log_grad_balance and not self.aux_trained:
            raise ConfigError(
                f"stp_log_grad_balance needs a trained auxiliary loss (method={self.method.value}, stp_lambda={self.stp_lambda}): "
                "it compares lambda times that loss's gradient with NTP's"
            )
        check_method_options(self)

    @property
    def gap_origin(self) -> GapOrigin:
        """stp_gap_origin, or the form's own when it is empty: the reference code's for its span
        form, Appendix G's for every other."""
        if self.stp_gap_origin is not None:
            return self.stp_gap_origin
        return GapOrigin.BEFORE_ANSWER if self.stp_form is STPForm.SPAN else GapOrigin.ANSWER_START

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

    def __post_init__(self):
        if self.bf16 is None:
            self.bf16 = default_bf16(self.use_cpu, self.fp16, torch.cuda.is_available() and torch.cuda.is_bf16_supported())
        super().__post_init__()


METHOD_OPTION_TYPES = {
    "method": Method,
    "stp_form": STPForm,
    "trajectory": Trajectory,
    "predictor": Predictor,
    "predictor_target": PredictorTarget,
    "two_view_pool": TwoViewPool,
    "mask_target": MaskTarget,
    "curvature_angle": CurvatureAngle,
    "stp_gap_origin": GapOrigin,
}
OPTIONAL_METHOD_OPTIONS = {"stp_gap_origin"}  # None: chosen from the other options

_TRAJECTORY_METHODS = {Method.STP, Method.TWO_VIEW, Method.MASK, Method.CURVATURE}
# Each option away from its default, and the methods it applies to (Appendix L's table of options).
METHOD_OPTIONS = {
    "stp_form": (STPForm.TUBE, {Method.STP, Method.NTP}),
    "stp_draws": (1, {Method.STP, Method.NTP}),
    "stp_log_forms": ((), {Method.STP, Method.NTP}),
    "stp_skip_gap": (True, _TRAJECTORY_METHODS | {Method.NTP}),
    "stp_gap_origin": (None, _TRAJECTORY_METHODS | {Method.NTP}),
    "trajectory": (Trajectory.CONTENT, _TRAJECTORY_METHODS | {Method.NTP}),
    "predictor": (Predictor.IDENTITY, {Method.STP, Method.TWO_VIEW, Method.MASK, Method.LLM_JEPA}),
    "predictor_target": (PredictorTarget.APPENDIX_L, {Method.STP, Method.TWO_VIEW}),
    "two_view_pool": (TwoViewPool.DISPLACEMENT, {Method.TWO_VIEW}),
    "mask_target": (MaskTarget.SPAN, {Method.MASK}),
    "curvature_angle": (CurvatureAngle.ABSOLUTE, {Method.CURVATURE}),
    "jepa_predictor_tokens": (0, {Method.LLM_JEPA}),
    "jepa_single_pass": (False, {Method.LLM_JEPA}),
    "jepa_last_token": (None, {Method.LLM_JEPA}),
}

# What method=ntp reads only to log STP (stp_log_when_off).
_LOGGED_STP_OPTIONS = ("stp_form", "stp_draws", "stp_skip_gap", "stp_gap_origin", "trajectory")


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
    for name, (default, methods) in METHOD_OPTIONS.items():
        value = getattr(args, name)
        if value != default and args.method not in methods:
            shown = value.value if isinstance(value, Enum) else value
            allowed = ", ".join(sorted(m.value for m in methods))
            raise ConfigError(f"{name}={shown} does not apply to method={args.method.value} (only to: {allowed})")
    if args.method is Method.NTP and not args.stp_logged_when_off:
        for name in _LOGGED_STP_OPTIONS:
            value, default = getattr(args, name), METHOD_OPTIONS[name][0]
            if value != default:
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
    if args.stp_gap_origin is not None:
        origin = args.stp_gap_origin.value
        if not args.stp_skip_gap:
            raise ConfigError(f"stp_gap_origin={origin} needs stp_skip_gap=true (straight across the template there is no gap to restart after)")
        if args.stp_form is STPForm.SPAN and args.stp_gap_origin is not GapOrigin.BEFORE_ANSWER:
            raise ConfigError(
                f"stp_gap_origin={origin} does not apply to stp_form=span: its points are the reference code's states before "
                "each token, whose gap restarts before the answer (before_answer)"
            )
        if args.method is Method.TWO_VIEW and args.two_view_pool is TwoViewPool.MEAN:
            raise ConfigError(f"stp_gap_origin={origin} does not apply to two_view_pool=mean (it averages states, no displacement)")
    if args.method is Method.TWO_VIEW and args.two_view_pool is TwoViewPool.MEAN and not args.stp_skip_gap:
        raise ConfigError("stp_skip_gap=false does not apply to two_view_pool=mean (its means are over the query's and the answer's own states)")
