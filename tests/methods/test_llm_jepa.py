"""The LLM-JEPA objective: the view batches, single pass against two passes, against a plain
per-example loop, and finite losses and gradients on a tiny model."""

from types import SimpleNamespace

import pytest
import torch
from transformers import LlamaForCausalLM

from semantic_tube.data.collator import STPCollator, encode_examples
from semantic_tube.data.jepa_views import JepaViewOptions, predictor_token_names
from semantic_tube.data.messages import ChatExample
from semantic_tube.methods.base import SPAN_KEYS
from semantic_tube.methods.llm_jepa import LLMJepaObjective, model_attention_mask, pack_views, stack_views
from semantic_tube.methods.options import Predictor
from semantic_tube.methods.tokens import add_special_tokens
from tests.tiny_models import tiny_model, tiny_tokenizer

EXAMPLES = [
    ChatExample(user="lines with a vowel before a number", assistant=".*[AEIOUaeiou].*([0-9]).*", system="Convert natural language to regular expression."),
    ChatExample(user="lines with dog", assistant="dog.*truck.*ring.*lake.*"),
    ChatExample(user="What is 12 + 30? lines containing the string 'dog' followed by a capital letter", assistant="42"),
]


def jepa_args(single_pass=False, k=0, layer=-1, predictor=Predictor.IDENTITY, last=None):
    return SimpleNamespace(stp_layer=layer, predictor=predictor, jepa_predictor_tokens=k, jepa_single_pass=single_pass, jepa_last_token=last)


def collated(tokenizer, examples=EXAMPLES, k=0, last=None):
    dataset = encode_examples(tokenizer, examples, max_length=512, jepa_views=JepaViewOptions(predictor_tokens=k, last_token_offset=last))
    return STPCollator(pad_token_id=tokenizer.pad_token_id)([dataset[i] for i in range(len(dataset))]), dataset


def fields(objective, batch):
    return {key: batch[key] for key in objective.batch_keys}


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A tiny Llama with two predictor tokens added, saved once."""
    folder = tmp_path_factory.mktemp("jepa") / "model"
    tokenizer = tiny_tokenizer("chatml")
    model = tiny_model(tokenizer, seed=3)
    add_special_tokens(model, tokenizer, predictor_token_names(2))
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder, tokenizer


def load(saved, attention):
    model = LlamaForCausalLM.from_pretrained(saved[0], attn_implementation=attention)
    assert model.config._attn_implementation == attention
    return model


# --------------------------------------------------------------------------------------------
# The view batches


def test_pack_views_by_hand():
    """Row 0: Text [1 2] + Code [3 4 5] fills L = 5; row 1: Text [6] + Code [7], then 3 pads (0)."""
    text_ids, text_mask = torch.tensor([[1, 2], [6, 9]]), torch.tensor([[1, 1], [1, 0]])
    code_ids, code_mask = torch.tensor([[3, 4, 5], [7, 9, 9]]), torch.tensor([[1, 1, 1], [1, 0, 0]])
    packed = pack_views(text_ids, text_mask, code_ids, code_mask, pad_id=0)
    assert packed["input_ids"].tolist() == [[1, 2, 3, 4, 5], [6, 7, 0, 0, 0]]
    assert packed["position_ids"].tolist() == [[0, 1, 0, 1, 2], [0, 0, 0, 0, 0]]
    assert packed["code_offset"].tolist() == [2, 1]
    expected0 = [
        [1, 0, 0, 0, 0],
        [1, 1, 0, 0, 0],
        [0, 0, 1, 0, 0],
        [0, 0, 1, 1, 0],
        [0, 0, 1, 1, 1],
    ]
    expected1 = [
        [1, 0, 0, 0, 0],
        [0, 1, 0, 0, 0],
        [0, 0, 1, 0, 0],  # padding attends only to itself
        [0, 0, 0, 1, 0],
        [0, 0, 0, 0, 1],
    ]
    assert packed["allowed"].shape == (2, 1, 5, 5) and packed["allowed"].dtype == torch.bool
    assert packed["allowed"][:, 0].int().tolist() == [expected0, expected1]


def test_stack_views_pads_both_to_the_wider():
    text_ids, text_mask = torch.tensor([[1, 2], [6, 9]]), torch.tensor([[1, 1], [1, 0]])
    code_ids, code_mask = torch.tensor([[3, 4, 5], [7, 9, 9]]), torch.tensor([[1, 1, 1], [1, 0, 0]])
    ids, mask = stack_views(text_ids, text_mask, code_ids, code_mask, pad_id=0)
    assert ids.tolist() == [[1, 2, 0], [6, 9, 0], [3, 4, 5], [7, 9, 9]]
    assert mask.tolist() == [[1, 1, 0], [1, 0, 0], [1, 1, 1], [1, 0, 0]]


def test_model_attention_mask_per_implementation():
    allowed = torch.tensor([[[[True, False], [True, True]]]])
    assert model_attention_mask(allowed, "sdpa", torch.float32) is allowed
    additive = model_attention_mask(allowed, "eager", torch.bfloat16)
    assert additive.dtype == torch.bfloat16 and additive[0, 0].tolist() == [[0.0, torch.finfo(torch.bfloat16).min], [0.0, 0.0]]
    with pytest.raises(ValueError, match="attn_implementation"):
        model_attention_mask(allowed, "flash_attention_2", torch.float32)


def test_objective_attributes_and_draws():
    tokenizer = tiny_tokenizer("chatml")
    batch, dataset = collated(tokenizer)
    two, one = LLMJepaObjective(jepa_args()), LLMJepaObjective(jepa_args(single_pass=True))
    assert (two.forward_passes, one.forward_passes, two.log_name) == (3, 2, "jepa_loss")
    assert two.batch_keys[: len(SPAN_KEYS)] == SPAN_KEYS and "jepa_code_last" in two.batch_keys and "jepa_code_ids" in two.item_keys
    drawn = two.draw(fields(two, batch), None)
    assert all(key.startswith("stp_jepa_") for key in drawn)
    width = max(batch["jepa_text_input_ids"].shape[1], batch["jepa_code_input_ids"].shape[1])
    assert drawn["stp_jepa_input_ids"].shape == drawn["stp_jepa_attention_mask"].shape == (6, width)
    packed = one.draw(fields(one, batch), None)
    assert set(packed) == {"stp_jepa_input_ids", "stp_jepa_position_ids", "stp_jepa_allowed", "stp_jepa_text_last", "stp_jepa_code_last"}
    for row in range(3):
        item = dataset[row]
        n_text = len(item["jepa_text_ids"])
        ids = packed["stp_jepa_input_ids"][row]
        assert ids[:n_text].tolist() == item["jepa_text_ids"]
        assert ids[n_text : n_text + len(item["jepa_code_ids"])].tolist() == item["jepa_code_ids"]
        assert packed["stp_jepa_text_last"][row] == item["jepa_text_last"]
        assert ids[packed["stp_jepa_code_last"][row]] == item["jepa_code_ids"][item["jepa_code_last"]]
    bad = fields(two, batch) | {"jepa_code_last": torch.tensor([0, 0, 99])}
    with pytest.raises(ValueError, match="jepa_code_last"):
        two.draw(bad, None)


# --------------------------------------------------------------------------------------------
# On a tiny model


def loss_and_grads(objective, model, batch):
    model.zero_grad(set_to_none=True)
    loss = objective.loss(model, {}, None, objective.draw(fields(objective, batch), None))
    loss.backward()
    return loss.detach(), {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}


def plain_loop(model, dataset, layer=-1, predictor=None):
    """1 - cos(Pred(Enc(Text)), Enc(Code)) with each view of each example run alone, no padding."""
    losses = []
    for i in range(len(dataset)):
        item = dataset[i]
        states = []
        for view in ("text", "code"):
            ids = torch.tensor([item[f"jepa_{view}_ids"]])
            states.append(model(input_ids=ids, output_hidden_states=True).hidden_states[layer][0, item[f"jepa_{view}_last"]])
        text, code = states
        if predictor is not None:
            text = predictor(text)
        losses.append(1 - torch.dot(text, code) / (text.norm() * code.norm()))
    return torch.stack(losses).mean()


@pytest.mark.parametrize("attention", ["eager", "sdpa"])
@pytest.mark.parametrize("layer", [-1, 1])
def test_single_pass_equals_two_passes_and_a_plain_loop(saved, attention, layer):
    """Rows of different lengths (views of 9 to 30 tokens, two predictor tokens): the packed pass
    with its block-diagonal mask and restarted positions gives each view what it sees alone."""
    model = load(saved, attention)
    batch, dataset = collated(saved[1], k=2)
    lengths = batch["jepa_text_attention_mask"].sum(1).tolist() + batch["jepa_code_attention_mask"].sum(1).tolist()
    assert len(set(lengths)) == len(lengths)
    two, grads_two = loss_and_grads(LLMJepaObjective(jepa_args(k=2, layer=layer)), model, batch)
    one, grads_one = loss_and_grads(LLMJepaObjective(jepa_args(single_pass=True, k=2, layer=layer)), model, batch)
    with torch.no_grad():
        expected = plain_loop(model, dataset, layer)
    assert 0 < two.item() < 2
    assert one.item() == pytest.approx(two.item(), abs=1e-5)
    assert two.item() == pytest.approx(expected.item(), abs=1e-5)
    assert grads_one.keys() == grads_two.keys() and len(grads_two) >= 10
    for name in grads_two:
        torch.testing.assert_close(grads_one[name], grads_two[name], atol=1e-6, rtol=1e-4, msg=name)


def test_eager_and_sdpa_agree(saved):
    batch, _ = collated(saved[1], k=2)
    objective = LLMJepaObjective(jepa_args(single_pass=True, k=2))
    drawn = objective.draw(fields(objective, batch), None)
    eager, sdpa = (objective.loss(load(saved, attention), {}, None, drawn).item() for attention in ("eager", "sdpa"))
    assert eager == pytest.approx(sdpa, abs=1e-5)


def test_linear_predictor_is_applied_to_the_text_encoding(saved):
    model = load(saved, "sdpa")
    torch.manual_seed(0)
    model.stp_predictor = torch.nn.Linear(model.config.hidden_size, model.config.hidden_size, bias=False)
    batch, dataset = collated(saved[1])
    for single_pass in (False, True):
        objective = LLMJepaObjective(jepa_args(single_pass=single_pass, predictor=Predictor.LINEAR))
        loss, grads = loss_and_grads(objective, model, batch)
        with torch.no_grad():
            expected = plain_loop(model, dataset, predictor=model.stp_predictor)
        assert loss.item() == pytest.approx(expected.item(), abs=1e-5)
        assert grads["stp_predictor.weight"].abs().sum() > 0
    del model.stp_predictor
    with pytest.raises(ValueError, match="stp_predictor"):
        objective.loss(model, {}, None, objective.draw(fields(objective, batch), None))


@pytest.mark.parametrize("single_pass", [False, True])
def test_loss_and_gradients_are_finite_and_reach_every_weight(single_pass):
    tokenizer = tiny_tokenizer("llama3")
    model = tiny_model(tokenizer)
    objective = LLMJepaObjective(jepa_args(single_pass=single_pass, k=1), model, tokenizer)  # adds <|predictor_1|>
    assert tokenizer.convert_tokens_to_ids("<|predictor_1|>") == model.get_input_embeddings().weight.shape[0] - 1
    batch, _ = collated(tokenizer, k=1)
    loss, grads = loss_and_grads(objective, model, batch)
    assert torch.isfinite(loss) and 0 < loss.item() < 2
    assert all(torch.isfinite(g).all() for g in grads.values())
    trained = [name for name, p in model.named_parameters() if p.requires_grad and name != "lm_head.weight"]
    assert all(grads[name].abs().sum() > 0 for name in trained)  # the views need no logits: lm_head gets none
    predictor_row = tokenizer.convert_tokens_to_ids("<|predictor_1|>")
    assert grads["model.embed_tokens.weight"][predictor_row].abs().sum() > 0


@pytest.mark.parametrize("single_pass", [False, True])
def test_views_of_one_token_are_finite(single_pass):
    """A template that renders only the content: a one-character content is a one-token view,
    Enc at index 0 (no earlier token to attend to)."""
    tokenizer = tiny_tokenizer("chatml")
    tokenizer.chat_template = "{% for m in messages %}{{ m['content'] }}{% endfor %}"
    model = tiny_model(tokenizer)
    examples = [ChatExample(user="a", assistant="b"), ChatExample(user="lines with dog", assistant="c")]
    batch, dataset = collated(tokenizer, examples)
    assert len(dataset[0]["jepa_text_ids"]) == len(dataset[0]["jepa_code_ids"]) == 1
    assert dataset[0]["jepa_text_last"] == dataset[0]["jepa_code_last"] == 0
    loss, grads = loss_and_grads(LLMJepaObjective(jepa_args(single_pass=single_pass)), model, batch)
    assert torch.isfinite(loss) and all(torch.isfinite(g).all() for g in grads.values())
    with torch.no_grad():
        assert loss.item() == pytest.approx(plain_loop(model, dataset).item(), abs=1e-5)


def test_last_token_offset_moves_enc(saved):
    """With the reference's -1 (the template's trailing newline), Enc moves off the content."""
    model = load(saved, "sdpa")
    content, _ = collated(saved[1])
    last, dataset = collated(saved[1], last=-1)
    assert (last["jepa_text_last"] == last["jepa_text_attention_mask"].sum(1) - 1).all()
    assert (content["jepa_text_last"] < last["jepa_text_last"]).all()
    objective = LLMJepaObjective(jepa_args(last=-1))
    with torch.no_grad():
        loss = objective.loss(model, {}, None, objective.draw(fields(objective, last), None))
        assert loss.item() == pytest.approx(plain_loop(model, dataset).item(), abs=1e-5)


def test_single_pass_in_bfloat16_is_finite(saved):
    model = LlamaForCausalLM.from_pretrained(saved[0], attn_implementation="eager", dtype=torch.bfloat16)
    batch, _ = collated(saved[1], k=2)
    objective = LLMJepaObjective(jepa_args(single_pass=True, k=2))
    loss, grads = loss_and_grads(objective, model, batch)
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    assert all(torch.isfinite(g.float()).all() for g in grads.values())


def test_single_pass_refuses_attention_without_dense_masks(saved):
    model = load(saved, "sdpa")
    model.config._attn_implementation = "flash_attention_2"  # only the name is read; no kernel is needed
    with pytest.raises(ValueError, match="jepa_single_pass needs attn_implementation"):
        LLMJepaObjective(jepa_args(single_pass=True), model)
    LLMJepaObjective(jepa_args(), model)  # two passes take any attention
