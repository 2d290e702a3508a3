"""What every method provides (methods/base.py): the Objective's defaults, a packed batch refused
by name for a method that cannot place its draws in packed rows, and the model under wrappers."""

import pytest
import torch
from torch import nn

from semantic_tube.methods.base import SPAN_KEYS, Objective, unwrap
from tests.training.test_trainer import args


def test_an_objective_by_default_reads_the_spans_logs_stp_loss_in_one_pass_and_nothing_more(tmp_path):
    objective = Objective(args(tmp_path))
    assert (objective.log_name, objective.forward_passes, objective.batch_keys, objective.item_keys) == ("stp_loss", 1, SPAN_KEYS, SPAN_KEYS)
    assert objective.cpu_keys == () and not objective.supports_packing
    assert objective.sequence_length_checks({"stp_positions": torch.zeros(1)}) == {}
    assert objective.logged(None, torch.zeros(1, 2, 3), {}, torch.tensor(0.0)) == {}
    with pytest.raises(NotImplementedError):
        objective.draw({}, None)
    with pytest.raises(NotImplementedError):
        objective.loss(None, {}, torch.zeros(1, 2, 3), {})


def test_packing_is_refused_naming_the_method(tmp_path):
    objective = Objective(args(tmp_path, method="curvature"))
    with pytest.raises(ValueError, match="method=curvature does not run on packed batches .* turn packing off for it"):
        objective.pack({}, torch.zeros(2, dtype=torch.long), torch.zeros(2, dtype=torch.long), rows=1)


def test_unwrap_finds_the_model_under_every_module_wrapper():
    class Wrapper(nn.Module):
        def __init__(self, module):
            super().__init__()
            self.module = module

    model = nn.Linear(2, 2)
    assert unwrap(model) is model
    assert unwrap(Wrapper(Wrapper(model))) is model
