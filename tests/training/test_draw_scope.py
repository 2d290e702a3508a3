"""`stp_draw_scope`: where a conversation's STP draws come from. Single exchanges give today's
draws and losses under both scopes, bit for bit; on conversations `exchange` keeps every draw
inside one exchange where `conversation` (the default) crosses them; a method that draws nothing
of the kind refuses the option."""

import pytest
import torch

from semantic_tube.losses.sampling import KeyedDraws, hash_keys
from semantic_tube.methods.options import DrawScope
from tests.training.test_conversation_training import batch_losses, make, mixed_file  # noqa: F401 (a fixture)


@pytest.mark.parametrize("options", [{}, {"stp_form": "span", "stp_draws": 3}, {"stp_form": "anchored"}, {"trajectory": "inst"}])
def test_single_exchanges_give_todays_losses_under_both_scopes(tiny_dir, train_file, tmp_path, options):
    """The same single-exchange batch, as collated (no segments) and with its segments given
    explicitly (query, answer and an empty exchange, as in a batch with longer conversations):
    the same losses under conversation and exchange, bit for bit."""
    found = {}
    for scope in DrawScope:
        trainer = make(tiny_dir, train_file, tmp_path / scope.value, stp_draw_scope=scope.value, **options)
        batch = trainer.data_collator([trainer.train_dataset[i] for i in range(6)])
        assert "segment_spans" not in batch
        empty = batch["answer_span"][:, 1:].repeat(1, 2)
        segments = torch.stack([batch["query_span"], batch["answer_span"], empty, empty], dim=1)
        found[scope] = [batch_losses(trainer, batch), batch_losses(trainer, {**batch, "segment_spans": segments})]
    today = found[DrawScope.CONVERSATION][0]
    assert found[DrawScope.CONVERSATION] == found[DrawScope.EXCHANGE] == [today, today]


def exchange_of(segments: torch.Tensor, position: int, span: bool) -> int | None:
    """Which exchange of one row's (S, 2) segments holds a position, None for a template token
    (with `span`, the state before a user turn counts for its exchange: the span form's start)."""
    for index, (start, end) in enumerate(segments.tolist()):
        if start - (span and index % 2 == 0) <= position < end:
            return index // 2
    return None


@pytest.mark.parametrize("form", ["tube", "anchored", "zero", "span"])
def test_exchange_draws_stay_in_one_exchange_where_the_conversation_crosses(tiny_dir, mixed_file, tmp_path, form):  # noqa: F811
    """A batch of a two- and a three-exchange conversation (rows 1 and 2 of the mixed file):
    under exchange every drawn tuple lies in one exchange of its row, with its own gap in
    `stp_skip`; under conversation some tuples take points from two exchanges."""
    crossing = {}
    for scope in DrawScope:
        trainer = make(tiny_dir, mixed_file, tmp_path / scope.value, stp_draw_scope=scope.value, stp_form=form, stp_draws=64)
        batch = trainer.data_collator([trainer.train_dataset[i] for i in (1, 2)])
        segments = batch["segment_spans"]
        assert segments.shape == (2, 6, 2)
        drawn = trainer.objective.draw(batch, KeyedDraws(hash_keys(82, 0, 1, batch["example_index"])))
        crossing[scope] = 0
        for row in range(2):
            for tuple_ in drawn["stp_positions"][row].tolist():
                exchanges = {exchange_of(segments[row], position, form == "span") for position in tuple_ if position >= 0}
                assert None not in exchanges
                crossing[scope] += len(exchanges) > 1
        if scope is DrawScope.EXCHANGE:
            assert drawn["stp_skip"].shape == (2, 3, 2)  # one gap per exchange, between its user and assistant turn
            assert (drawn["stp_skip"][..., 0] == segments[:, 0::2, 1]).all()
    assert crossing[DrawScope.EXCHANGE] == 0 < crossing[DrawScope.CONVERSATION]


def test_exchange_scope_trains_on_conversations_with_the_loss_identity(tiny_dir, mixed_file, tmp_path):  # noqa: F811
    trainer = make(tiny_dir, mixed_file, tmp_path, stp_draw_scope="exchange", stp_log_forms="tube,span")
    trainer.train()
    entries = [entry for entry in trainer.state.log_history if "loss" in entry]
    assert len(entries) == 3
    for entry in entries:
        assert entry["loss"] == pytest.approx(entry["ntp_loss"] + 0.5 * entry["stp_loss"], rel=1e-4, abs=1e-4)
        assert "stp_span_loss" in entry


