"""Adding special tokens: the tokenizer, the embedding rows, their mean initialisation, a save/load round trip."""

import torch
from transformers import AutoTokenizer, LlamaForCausalLM

from semantic_tube.methods.tokens import add_special_tokens
from tests.tiny_models import tiny_model, tiny_tokenizer

TOKENS = ["<|predictor_1|>", "<|predictor_2|>"]


def test_new_tokens_get_rows_at_the_mean_and_survive_a_round_trip(tmp_path):
    tokenizer = tiny_tokenizer("chatml")
    model = tiny_model(tokenizer)
    before = len(tokenizer)
    old_in = model.get_input_embeddings().weight.detach().clone()
    old_out = model.get_output_embeddings().weight.detach().clone()
    ids = add_special_tokens(model, tokenizer, TOKENS)
    assert ids == [before, before + 1] and len(tokenizer) == before + 2
    assert tokenizer.convert_ids_to_tokens(ids) == TOKENS
    assert tokenizer("a<|predictor_2|>b", add_special_tokens=False)["input_ids"][1] == ids[1]  # never split
    assert tokenizer.decode([ids[0]], skip_special_tokens=True) == ""
    new_in, new_out = model.get_input_embeddings().weight, model.get_output_embeddings().weight
    assert new_in.shape[0] == new_out.shape[0] == model.config.vocab_size == before + 2
    assert torch.equal(new_in[:before], old_in) and torch.equal(new_out[:before], old_out)
    for row in ids:
        torch.testing.assert_close(new_in[row], old_in.mean(dim=0))
        torch.testing.assert_close(new_out[row], old_out.mean(dim=0))

    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    tokenizer2 = AutoTokenizer.from_pretrained(tmp_path)
    model2 = LlamaForCausalLM.from_pretrained(tmp_path)
    assert tokenizer2.convert_tokens_to_ids(TOKENS) == ids
    assert tokenizer2("a<|predictor_1|>", add_special_tokens=False)["input_ids"][-1] == ids[0]
    torch.testing.assert_close(model2.get_input_embeddings().weight, new_in)
    torch.testing.assert_close(model2.get_output_embeddings().weight, new_out)
    # Adding them again to the reloaded pair changes nothing.
    assert add_special_tokens(model2, tokenizer2, TOKENS) == ids
    assert len(tokenizer2) == before + 2 and model2.get_input_embeddings().weight.shape[0] == before + 2
    torch.testing.assert_close(model2.get_input_embeddings().weight, new_in)


def test_idempotent_and_only_the_missing_are_added():
    tokenizer = tiny_tokenizer("chatml")
    model = tiny_model(tokenizer)
    first = add_special_tokens(model, tokenizer, TOKENS[:1])
    weight = model.get_input_embeddings().weight.detach().clone()
    ids = add_special_tokens(model, tokenizer, [TOKENS[0], "<|im_end|>", TOKENS[1], TOKENS[1]])
    assert ids[0] == first[0] and ids[1] == tokenizer.convert_tokens_to_ids("<|im_end|>") and ids[2] == ids[3] == len(tokenizer) - 1
    assert torch.equal(model.get_input_embeddings().weight[: len(weight)], weight)  # earlier rows, the first new one included, kept
    assert add_special_tokens(model, tokenizer, TOKENS) == ids[::2]
    assert add_special_tokens(model, tokenizer, []) == []


def test_tied_embeddings_stay_tied():
    tokenizer = tiny_tokenizer("chatml")
    model = tiny_model(tokenizer)
    model.config.tie_word_embeddings = True
    model.tie_weights()
    assert model.get_output_embeddings().weight is model.get_input_embeddings().weight
    mean = model.get_input_embeddings().weight.detach().mean(dim=0)
    ids = add_special_tokens(model, tokenizer, TOKENS)
    assert model.get_output_embeddings().weight is model.get_input_embeddings().weight
    torch.testing.assert_close(model.get_input_embeddings().weight[ids], mean.expand(2, -1))


def test_spare_rows_are_used_not_cut_off():
    """A model with more rows than its tokenizer has tokens (Qwen pads its vocabulary) keeps its
    size; the new tokens take spare rows, set to the mean of the rows in use."""
    tokenizer = tiny_tokenizer("chatml")
    model = tiny_model(tokenizer)
    model.resize_token_embeddings(len(tokenizer) + 8, mean_resizing=False)
    rows = len(tokenizer) + 8
    in_use = model.get_input_embeddings().weight.detach()[: len(tokenizer)].mean(dim=0)
    ids = add_special_tokens(model, tokenizer, TOKENS)
    assert model.get_input_embeddings().weight.shape[0] == rows and max(ids) < rows
    torch.testing.assert_close(model.get_input_embeddings().weight[ids], in_use.expand(2, -1))


def test_a_tokenizer_ahead_of_its_model_gets_the_missing_rows():
    """Tokens already in the tokenizer (a saved tokenizer next to a base model) still get rows."""
    tokenizer = tiny_tokenizer("chatml")
    base_rows = len(tokenizer)
    model = tiny_model(tokenizer)
    tokenizer.add_special_tokens({"extra_special_tokens": TOKENS})
    mean = model.get_input_embeddings().weight.detach().mean(dim=0)
    ids = add_special_tokens(model, tokenizer, TOKENS)
    assert ids == [base_rows, base_rows + 1] and model.get_input_embeddings().weight.shape[0] == base_rows + 2
    torch.testing.assert_close(model.get_input_embeddings().weight[ids], mean.expand(2, -1))
