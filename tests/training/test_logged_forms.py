"""`stp_log_forms` in training: the logged forms leave the loss and the weights as they were."""

import pytest
import torch

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
