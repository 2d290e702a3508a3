"""`ntp_logits: labelled`: the NTP loss from the logits of the labelled positions only equals the
model's own loss (value and gradient), on padded and packed batches."""

import pytest
import torch

from semantic_tube.data.collator import STPCollator, load_encoded_file
from semantic_tube.training.model import load_model, load_tokenizer
from semantic_tube.training.trainer import labelled_ntp_loss, labelled_positions
from tests.training.test_trainer import args, losses, make_trainer


def test_labelled_positions_are_those_whose_next_token_has_a_label():
    labels = torch.tensor([[-100, -100, 5, 6, -100], [-100, 7, -100, -100, -100]])
    # row 0 labels tokens 2, 3 (predicted at 1, 2); row 1 labels token 1 (predicted at 0)
    assert labelled_positions(labels).tolist() == [0, 1, 2]


@pytest.mark.parametrize("packing", [False, True])
def test_the_labelled_loss_is_the_models_own_loss_and_gradient(tiny_dir, train_file, packing):
    tokenizer = load_tokenizer(str(tiny_dir))
    dataset = load_encoded_file(tokenizer, train_file, max_length=256)
    collate = STPCollator(pad_token_id=tokenizer.pad_token_id, packing=packing)
    batch = collate([dataset[index] for index in range(6)])
    inputs = {key: batch[key] for key in ("input_ids", "attention_mask", "position_ids", "labels") if key in batch}
    model = load_model(str(tiny_dir), dtype="float32")
    own = model(**inputs).loss
    own_grads = torch.autograd.grad(own, list(model.parameters()), allow_unused=True)
    ours = labelled_ntp_loss(model, inputs, labelled_positions(inputs["labels"]))
    our_grads = torch.autograd.grad(ours, list(model.parameters()), allow_unused=True)
    assert ours.item() == pytest.approx(own.item(), rel=1e-6)
    for theirs, mine in zip(own_grads, our_grads, strict=True):
        if theirs is None:
            assert mine is None or not mine.any()
        else:
            torch.testing.assert_close(mine, theirs, rtol=1e-4, atol=1e-6)
    items = int((inputs["labels"][:, 1:] != -100).sum())
    summed = model(**inputs, num_items_in_batch=2 * items).loss
    assert labelled_ntp_loss(model, inputs, labelled_positions(inputs["labels"]), divisor=2 * items).item() == pytest.approx(summed.item(), rel=1e-6)


def test_accumulated_and_stp_training_matches_every_position(tiny_dir, train_file, tmp_path):
    """Through the trainer (accumulation, STP on, the LM head on labelled positions): the same losses as all positions."""
    options = dict(stp_lambda=0.5, max_steps=4, gradient_accumulation_steps=2, per_device_train_batch_size=2)
    everything = make_trainer(tiny_dir, train_file, args(tmp_path / "all", ntp_logits="all", **options))
    everything.train()
    labelled = make_trainer(tiny_dir, train_file, args(tmp_path / "labelled", **options))
    assert labelled.labelled_logits and not everything.labelled_logits
    labelled.train()
    for key in ("loss", "ntp_loss", "stp_loss"):
        assert losses(labelled, key) == pytest.approx(losses(everything, key), rel=1e-5), key
