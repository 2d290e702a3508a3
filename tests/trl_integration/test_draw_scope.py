"""`stp_draw_scope` in STPSFTConfig, as in `stp train`: exchange draws stay in one exchange of a
conversation, packing gives the unpacked losses, and methods that do not draw refuse it."""

import pytest

pytest.importorskip("datasets", reason="the trl extra is not installed (pip install -e '.[trl]')")
pytest.importorskip("trl", reason="the trl extra is not installed (pip install -e '.[trl]')")

from semantic_tube.losses.sampling import KeyedDraws, hash_keys
from semantic_tube.training.config import ConfigError
from semantic_tube.trl import STPSFTConfig
from tests.training.test_draw_scope import exchange_of
from tests.trl_integration.test_conversations import ROWS
from tests.trl_integration.test_sft import batch_losses, common, sft


def test_exchange_draws_stay_in_one_exchange(tiny_dir, tmp_path):
    trainer = sft(tiny_dir, ROWS["messages"], STPSFTConfig(**common(tmp_path), stp_draw_scope="exchange", stp_draws=32))
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(6)])
    segments = batch["segment_spans"]
    assert segments.shape[1] == 6  # up to three exchanges
    drawn = trainer.objective.draw(batch, KeyedDraws(hash_keys(82, 0, 1, batch["example_index"])))
    for row in range(len(segments)):
        for tuple_ in drawn["stp_positions"][row].tolist():
            exchanges = {exchange_of(segments[row], position, span=False) for position in tuple_}
            assert len(exchanges) == 1 and None not in exchanges, tuple_


@pytest.mark.parametrize("form", ["tube", "span"])
def test_packed_exchange_draws_give_the_unpacked_losses(tiny_dir, tmp_path, form):
    options = {"stp_lambda": 0.5, "stp_draw_scope": "exchange", "stp_form": form}
    unpacked = sft(tiny_dir, ROWS["messages"], STPSFTConfig(**common(tmp_path / "a"), **options))
    packed = sft(tiny_dir, ROWS["messages"], STPSFTConfig(**common(tmp_path / "b", packing=True), **options))
    expected = batch_losses(unpacked, list(unpacked.train_dataset))
    found = batch_losses(packed, list(packed.train_dataset))
    assert found.keys() == expected.keys() >= {"loss", "ntp_loss", "stp_loss"}
    for key in expected:
        assert found[key] == pytest.approx(expected[key], rel=1e-5, abs=1e-6), key


def test_a_method_that_does_not_draw_refuses_the_scope(tmp_path):
    with pytest.raises(ConfigError, match="stp_draw_scope=exchange does not apply to method=mask"):
        STPSFTConfig(**common(tmp_path), method="mask", stp_draw_scope="exchange")
