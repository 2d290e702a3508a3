"""`stp_log_forms` in training: the logged forms leave the loss and the weights as they were."""

import pytest
import torch

from semantic_tube.losses.stp import stp_loss
from tests.training.test_trainer import args, losses, make_trainer


def test_logging_a_second_form_changes_neither_the_loss_nor_the_weights(tiny_dir, train_file, tmp_path):
    plain = make_trainer(tiny_dir, train_file, args(tmp_path / "plain", stp_lambda=0.5, max_steps=6))
    plain.train()
    logging = make_trainer(tiny_dir, train_file, args(tmp_path / "logging", stp_lambda=0.5, max_steps=6, stp_log_forms="tube,span"))
    logging.train()
    for key in ("loss", "ntp_loss", "stp_loss"):
        assert losses(logging, key) == losses(plain, key), key
    assert losses(logging, "stp_tube_loss") == losses(plain, "stp_loss")
    assert len(losses(logging, "stp_span_loss")) == 3 and losses(logging, "stp_span_loss") != losses(plain, "stp_loss")
    for (name, ours), theirs in zip(logging.model.named_parameters(), plain.model.parameters(), strict=True):
        assert torch.equal(ours, theirs), name


def test_forms_logged_without_training_stp(tiny_dir, train_file, tmp_path):
    ntp = make_trainer(tiny_dir, train_file, args(tmp_path / "ntp", method="ntp", max_steps=4, stp_log_forms="tube,span"))
    ntp.train()
    assert len(losses(ntp, "stp_tube_loss")) == len(losses(ntp, "stp_span_loss")) == 2
    assert losses(ntp, "loss") == pytest.approx(losses(ntp, "ntp_loss"), rel=1e-6)


def test_the_gradient_balance_is_the_two_gradient_norms_on_the_logged_step(tiny_dir, train_file, tmp_path):
    """One logged step: the logged norms are those of d NTP / d theta and d (lambda * STP) / d theta
    at the initial weights on the step's batch (the same sampler order and keyed draws), by hand."""
    options = dict(stp_lambda=0.5, max_steps=1, logging_steps=1, per_device_train_batch_size=4)
    trainer = make_trainer(tiny_dir, train_file, args(tmp_path / "logged", stp_log_grad_balance=True, **options))
    reference = make_trainer(tiny_dir, train_file, args(tmp_path / "hand", **options))
    model = reference.model
    model.train()  # training draws are keyed by (seed, step, training, example)
    inputs = reference._prepare_inputs(next(iter(reference.get_train_dataloader())))
    drawn = {key: inputs.pop(key) for key in list(inputs) if key.startswith("stp_")}
    outputs = model(**inputs, output_hidden_states=True)
    stp = stp_loss(outputs.hidden_states[-1], drawn["stp_positions"], drawn.get("stp_skip"))
    params = [param for param in model.parameters() if param.requires_grad]

    def norm(loss):
        grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
        return torch.sqrt(sum((grad.double() ** 2).sum() for grad in grads if grad is not None)).item()

    trainer.train()
    logged = next(entry for entry in trainer.state.log_history if "grad_norm_ntp" in entry)
    assert logged["grad_norm_ntp"] == pytest.approx(norm(outputs.loss), rel=1e-4)
    assert logged["grad_norm_aux"] == pytest.approx(norm(0.5 * stp), rel=1e-4)
    assert logged["grad_balance"] == pytest.approx(logged["grad_norm_aux"] / logged["grad_norm_ntp"], rel=1e-4)
    assert logged["loss"] == pytest.approx(outputs.loss.item() + 0.5 * stp.item(), rel=1e-4)


def test_the_gradient_balance_leaves_training_unchanged(tiny_dir, train_file, tmp_path):
    plain = make_trainer(tiny_dir, train_file, args(tmp_path / "plain", stp_lambda=0.5, max_steps=4))
    plain.train()
    balanced = make_trainer(tiny_dir, train_file, args(tmp_path / "balanced", stp_lambda=0.5, max_steps=4, stp_log_grad_balance=True))
    balanced.train()
    assert losses(balanced) == losses(plain)
    assert len(losses(balanced, "grad_balance")) == 2  # logged at the two logging steps only
    for ours, theirs in zip(balanced.model.parameters(), plain.model.parameters(), strict=True):
        assert torch.equal(ours, theirs)
