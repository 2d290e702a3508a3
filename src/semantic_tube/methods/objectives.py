"""The trajectory methods: STP and the Appendix L variants Two Views, Mask and Curvature.

Each draws on the CPU what it needs (positions, the template gap, a masked copy of the input)
and computes its loss from the main pass's hidden states with the pure functions of
`semantic_tube.losses`. With `trajectory=inst` the trajectory starts at the sequence's first
token, so the system prompt and its template are part of it (Appendix L "Inst"); otherwise it is
the query's content then the answer's content, the template gap between them bypassed.
"""

from __future__ import annotations

import torch

from semantic_tube.losses.curvature import curvature_loss
from semantic_tube.losses.mask import mask_loss, mask_span_ids, sample_mask_span
from semantic_tube.losses.packing import group_by_row, offset_gaps, offset_positions
from semantic_tube.losses.sampling import (
    GapOrigin,
    KeyedDraws,
    OffsetDraws,
    STPForm,
    exchange_gaps,
    sample_exchange_positions,
    sample_positions,
    sample_segment_positions,
    segment_gaps,
    template_gap,
    trajectory_answer_span,
    trajectory_segments,
)
from semantic_tube.losses.stp import span_loss, stp_loss
from semantic_tube.losses.two_view import mean_view_loss, two_view_triplets
from semantic_tube.methods.base import SEGMENT_BATCH_KEY, Objective
from semantic_tube.methods.options import DrawScope, Method, Predictor, Trajectory, TwoViewPool, forward_passes_per_step
from semantic_tube.methods.predictor import predictor_of


def trajectory_spans(batch: dict[str, torch.Tensor], trajectory: Trajectory) -> tuple[torch.Tensor, torch.Tensor]:
    """The (batch, 2) query and answer spans the trajectory runs over; `inst` starts the first at 0."""
    query, answer = batch["query_span"], batch["answer_span"]
    if trajectory is Trajectory.INST:
        query = torch.stack([torch.zeros_like(query[:, 0]), query[:, 1]], dim=1)
    return query, answer


def trajectory_segments_of(batch: dict[str, torch.Tensor], trajectory: Trajectory) -> torch.Tensor | None:
    """A conversation batch's (batch, S, 2) content segments (`segment_spans`), `inst` starting the
    first at 0; None for batches of one query and one answer each (or plain text)."""
    segments = batch.get(SEGMENT_BATCH_KEY)
    if segments is None:
        return None
    if trajectory is Trajectory.INST:
        segments = segments.clone()
        segments[:, 0, 0] = 0
    return segments


class TrajectoryObjective(Objective):
    """Shared by the methods that read one trajectory of the main pass."""

    def spans(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        if SEGMENT_BATCH_KEY in batch:
            raise ValueError(
                f"method={self.args.method.value} reads one query and one answer per example; a conversation of several "
                "exchanges trains with method=stp (or split it into single exchanges)"
            )
        return trajectory_spans(batch, self.args.trajectory)

    def gap(self, query: torch.Tensor, answer: torch.Tensor) -> dict[str, torch.Tensor]:
        origin = self.bypass_origin
        return {"stp_skip": template_gap(query, answer, origin)} if origin is not None else {}

    def drawn_answer(self, query: torch.Tensor, answer: torch.Tensor) -> torch.Tensor:
        """The answer positions draws pick from: without the answer's first token when, on Appendix
        G's bypassed trajectory, it is the same point as the query's last (`trajectory_answer_span`)."""
        return trajectory_answer_span(query, answer, self.bypass_origin)

    @property
    def bypass_origin(self):
        """The gap's origin (`GapOrigin`), or None when displacements go straight across it (stp_gap=none)."""
        return self.args.gap_origin

    def predictor(self, model):
        return predictor_of(model) if self.args.predictor is Predictor.LINEAR else None

    def pack(self, drawn, row, offset, rows):
        """Positions (N, K, P) -> (rows, M * K, P) and gaps (N, 2) -> (rows, M, 2), each example's
        shifted by its offset (`losses.packing`); only for the objectives that draw nothing else
        (every drawn key names positions, `*positions`, or a gap, `*skip`)."""
        if not self.supports_packing or any(not key.endswith(("positions", "skip")) for key in drawn):
            return super().pack(drawn, row, offset, rows)
        packed = {}
        for key, value in drawn.items():
            if key.endswith("positions"):
                packed[key] = group_by_row(offset_positions(value, offset), row, rows, fill=-1)
            else:
                gaps = value if value.dim() == 3 else value.unsqueeze(1)  # (N, G, 2): a conversation's several gaps
                packed[key] = group_by_row(offset_gaps(gaps, offset), row, rows, fill=0)
        return packed


# Streams of the logged forms' draws start here, past any stream the trained form's draws use:
# logging another form leaves the trained draws (and so the loss and its gradient) as they were.
LOGGED_FORM_STREAMS = 1000


def logged_form_key(form: STPForm) -> str:
    """The drawn-positions key of a form logged beside the trained one (`stp_log_forms`)."""
    return f"stp_logged_{form.value}_positions"


def logged_form_gap_key(form: STPForm) -> str:
    return f"stp_logged_{form.value}_skip"


class STPObjective(TrajectoryObjective):
    """Sec. 3: 1 - cos(h_t - h_r, h_r - h_s) at drawn s < r < t (forms tube, anchored, zero, span);
    with a linear predictor, Appendix L's (or Sec. 4.6's) Pred form.

    `stp_log_forms` adds other forms as logged series (`logged`): drawn on their own streams,
    computed on the same hidden states without gradient, each with its own gap origin."""

    supports_packing = True

    def draw(self, batch, draws: KeyedDraws):
        segments = trajectory_segments_of(batch, self.args.trajectory)
        if segments is not None:
            return self.draw_segments(segments, draws)
        query, answer = self.spans(batch)
        positions = sample_positions(query, self.drawn_answer(query, answer), self.args.stp_draws, self.args.stp_form, draws)
        drawn = {"stp_positions": positions, **self.gap(query, answer)}
        for index, form in enumerate(self.extra_logged_forms):
            origin = self.logged_gap_origin(form)
            form_answer = trajectory_answer_span(query, answer, origin)
            offset = OffsetDraws(draws, LOGGED_FORM_STREAMS + 10 * index)
            drawn[logged_form_key(form)] = sample_positions(query, form_answer, self.args.stp_draws, form, offset)
            if origin is not None:
                drawn[logged_form_gap_key(form)] = template_gap(query, answer, origin)
        return drawn

    def draw_segments(self, segments: torch.Tensor, draws: KeyedDraws) -> dict[str, torch.Tensor]:
        """`draw` over a conversation's content segments, as `stp_draw_scope` says: `conversation`,
        one trajectory over every content turn in order, each template stretch between two turns
        bypassed (`losses.sampling.sample_segment_positions`, skip (batch, S - 1, 2)); `exchange`,
        each draw within one exchange, its own gap bypassed (`sample_exchange_positions`, skip
        (batch, S / 2, 2)). On a batch of (query, answer) segments either draws exactly what `draw`
        draws from query_span and answer_span."""
        positions, gaps = self.segment_draws(segments, self.args.stp_form, draws, self.bypass_origin)
        drawn = {"stp_positions": positions}
        if gaps is not None:
            drawn["stp_skip"] = gaps
        for index, form in enumerate(self.extra_logged_forms):
            offset = OffsetDraws(draws, LOGGED_FORM_STREAMS + 10 * index)
            positions, gaps = self.segment_draws(segments, form, offset, self.logged_gap_origin(form))
            drawn[logged_form_key(form)] = positions
            if gaps is not None:
                drawn[logged_form_gap_key(form)] = gaps
        return drawn

    def segment_draws(self, segments, form: STPForm, draws, origin) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(positions, gaps or None straight across) of one form over a conversation's segments."""
        k = self.args.stp_draws
        if self.args.stp_draw_scope is DrawScope.EXCHANGE:
            return sample_exchange_positions(segments, k, form, draws, origin), None if origin is None else exchange_gaps(segments, origin)
        positions = sample_segment_positions(trajectory_segments(segments, origin), k, form, draws)
        return positions, None if origin is None else segment_gaps(segments, origin)

    @property
    def extra_logged_forms(self) -> tuple[STPForm, ...]:
        """The logged forms other than the trained one (which is `stp_loss` itself)."""
        return tuple(form for form in self.args.stp_log_forms if form is not self.args.stp_form)

    def logged_gap_origin(self, form: STPForm) -> GapOrigin | None:
        """A logged form's gap origin: the one it would train with (span: the reference code's
        before_answer; the others: stp_gap's, else Appendix G's answer_start); None straight across."""
        return self.args.gap_origin_of(form)

    def sequence_length_checks(self, drawn):
        return {key: value for key, value in drawn.items() if key.endswith("positions")}

    def loss(self, model, inputs, hidden, drawn):
        return self.form_loss(model, self.args.stp_form, hidden, drawn["stp_positions"], drawn.get("stp_skip"))

    def form_loss(self, model, form: STPForm, hidden, positions, skip):
        predictor = self.predictor(model)
        if form is STPForm.SPAN:
            return span_loss(hidden, positions, skip, predictor=predictor)
        return stp_loss(hidden, positions, skip, predictor=predictor, predictor_target=self.args.predictor_target)

    def logged(self, model, hidden, drawn, aux) -> dict[str, torch.Tensor]:
        """`stp_<form>_loss` for each of `stp_log_forms`: the trained form's is `aux` itself, the
        others are computed on the same hidden states without gradient (no extra forward pass)."""
        values = {}
        with torch.no_grad():
            for form in self.args.stp_log_forms:
                if form is self.args.stp_form:
                    values[f"stp_{form.value}_loss"] = aux.detach()
                else:
                    skip = drawn.get(logged_form_gap_key(form))
                    values[f"stp_{form.value}_loss"] = self.form_loss(model, form, hidden, drawn[logged_form_key(form)], skip)
        return values


class TwoViewObjective(TrajectoryObjective):
    """Appendix L, Two Views: the STP formula with s = the trajectory's start, r = the query's last
    token, t = the answer's last token (or, with pool=mean, the mean states of s..r and r..t)."""

    cpu_keys = ("stp_query_span", "stp_answer_span")

    @property
    def supports_packing(self) -> bool:
        return self.args.two_view_pool is TwoViewPool.DISPLACEMENT  # mean pooling reads whole rows

    def draw(self, batch, draws):
        query, answer = self.spans(batch)
        drawn = {"stp_positions": two_view_triplets(query, self.drawn_answer(query, answer)), **self.gap(query, answer)}
        if self.args.two_view_pool is TwoViewPool.MEAN:
            drawn |= {"stp_query_span": query, "stp_answer_span": answer}
        return drawn

    def sequence_length_checks(self, drawn):
        return {"stp_positions": drawn["stp_positions"]}

    def loss(self, model, inputs, hidden, drawn):
        predictor = self.predictor(model)
        if self.args.two_view_pool is TwoViewPool.MEAN:
            return mean_view_loss(hidden, drawn["stp_query_span"], drawn["stp_answer_span"], predictor=predictor)
        return stp_loss(
            hidden, drawn["stp_positions"], drawn.get("stp_skip"), predictor=predictor, predictor_target=self.args.predictor_target
        )


class MaskObjective(TrajectoryObjective):
    """Appendix L, Mask: a random span [s, r] of the trajectory replaced by a mask token, the
    masked sequence run through the model again (g), and 1 - cos(h_r - h_s, g_t) with t the
    trajectory's last token (target=full: 1 - cos(h_t, g_t)). One extra forward pass per step."""

    log_name = "mask_loss"
    forward_passes = forward_passes_per_step(Method.MASK)

    def __init__(self, args, mask_token_id: int):
        super().__init__(args)
        self.mask_token_id = mask_token_id

    def draw(self, batch, draws):
        query, answer = self.spans(batch)
        positions = sample_mask_span(query, self.drawn_answer(query, answer), draws)
        masked = mask_span_ids(batch["input_ids"], query, answer, positions, self.mask_token_id)
        return {"stp_positions": positions, "stp_mask_input_ids": masked, **self.gap(query, answer)}

    def sequence_length_checks(self, drawn):
        return {"stp_positions": drawn["stp_positions"].unsqueeze(1)}

    def loss(self, model, inputs, hidden, drawn):
        # Only the hidden states of the masked pass are needed: logits for one position, not the whole vocabulary per token.
        masked = model(
            input_ids=drawn["stp_mask_input_ids"],
            attention_mask=inputs.get("attention_mask"),
            output_hidden_states=True,
            logits_to_keep=1,
        )
        return mask_loss(
            hidden,
            masked.hidden_states[self.args.stp_layer],
            drawn["stp_positions"],
            drawn.get("stp_skip"),
            target=self.args.mask_target,
            predictor=self.predictor(model),
        )


class CurvatureObjective(TrajectoryObjective):
    """Appendix L, Curvature: the mean angle between consecutive steps along the trajectory."""

    log_name = "curvature_loss"
    cpu_keys = ("stp_query_span", "stp_answer_span")

    def draw(self, batch, draws):
        query, answer = self.spans(batch)
        return {"stp_query_span": query, "stp_answer_span": answer}

    def loss(self, model, inputs, hidden, drawn):
        return curvature_loss(
            hidden,
            drawn["stp_query_span"],
            drawn["stp_answer_span"],
            angle=self.args.curvature_angle,
            gap_origin=self.bypass_origin,
        )
