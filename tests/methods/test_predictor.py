"""The linear predictor of Appendix L's Pred options (methods/predictor.py): attached once, seeded,
in float32, left out of the model's own weights, and saved and loaded beside them."""

import pytest
import torch

from semantic_tube.methods.predictor import (
    PREDICTOR_FILE,
    LinearPredictor,
    attach_predictor,
    base_model,
    load_predictor,
    predictor_of,
    save_predictor,
)
from tests.tiny_models import tiny_model, tiny_tokenizer


@pytest.fixture(scope="module")
def tokenizer():
    return tiny_tokenizer()


def test_the_predictor_is_a_square_matrix_without_bias_and_not_the_identity():
    predictor = LinearPredictor(8)
    assert predictor.weight.shape == (8, 8) and predictor.bias is None
    assert not torch.allclose(predictor.weight, torch.eye(8))
    bound = (6 / (8 + 8)) ** 0.5  # Xavier-uniform's bound for fan_in = fan_out = 8
    assert predictor.weight.abs().max() <= bound


def test_it_is_attached_once_seeded_in_float32_and_left_out_of_the_models_files(tokenizer):
    model = tiny_model(tokenizer).to(torch.bfloat16)
    assert predictor_of(model) is None
    rng = torch.get_rng_state()
    predictor = attach_predictor(model, generator_seed=5)
    assert torch.equal(torch.get_rng_state(), rng)  # seeded on a forked generator: the global stream is untouched
    assert predictor_of(model) is predictor and attach_predictor(model, generator_seed=6) is predictor
    assert predictor.weight.dtype == torch.float32 and predictor.weight.shape == (32, 32)  # the tiny model's hidden size
    assert "stp_predictor.weight" in base_model(model)._keys_to_ignore_on_save
    again = attach_predictor(tiny_model(tokenizer), generator_seed=5)
    other = attach_predictor(tiny_model(tokenizer), generator_seed=6)
    assert torch.equal(again.weight, predictor.weight) and not torch.equal(other.weight, predictor.weight)


def test_save_and_load_round_trip_and_report_what_is_missing(tokenizer, tmp_path):
    trained, fresh = tiny_model(tokenizer), tiny_model(tokenizer)
    assert save_predictor(trained, tmp_path) is None and not (tmp_path / PREDICTOR_FILE).exists()  # no predictor, no file
    attach_predictor(trained, generator_seed=1)
    assert save_predictor(trained, tmp_path) == tmp_path / PREDICTOR_FILE
    assert not load_predictor(fresh, tmp_path)  # the model has no predictor to load into
    attach_predictor(fresh, generator_seed=2)
    assert not load_predictor(fresh, tmp_path / "elsewhere")  # no file there
    assert load_predictor(fresh, tmp_path)
    assert torch.equal(predictor_of(fresh).weight, predictor_of(trained).weight)


def test_a_predictor_of_another_size_is_an_error_naming_both_shapes(tokenizer, tmp_path):
    from safetensors.torch import save_file

    save_file({"weight": torch.zeros(4, 4)}, str(tmp_path / PREDICTOR_FILE))
    model = tiny_model(tokenizer)
    attach_predictor(model, generator_seed=0)
    with pytest.raises(ValueError, match=r"predictor weight \(4, 4\) does not fit the model's \(32, 32\)"):
        load_predictor(model, tmp_path)
