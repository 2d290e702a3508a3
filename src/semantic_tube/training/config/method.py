"""`STPArguments`: the method's fields (`method`, `stp_*` and every method option) and their
checks, and which methods each option applies to (Appendix L's table of options).

The option table sits beside the fields because a new method adds both at once, and because
`STPArguments.__post_init__` runs its checks (`check_method_options`) while the table's helpers
read the class's own annotations and defaults.
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from dataclasses import dataclass, field
from enum import Enum

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
from semantic_tube.training.config.numbers import METHOD_RANGES, TRAINER_RANGES, ConfigError, check_numbers


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


# -------------------------------------------------------------------------------------------
# The option table: which methods each option applies to, and each option's value in its own type


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
