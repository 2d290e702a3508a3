"""Conversations under the chat templates people fine-tune with (tests/chat_templates.py): each
turn's span holds exactly its content tokens, the labels are every assistant turn and its
end-of-turn token, and no state STP reads is a template token."""

import pytest
import torch

from semantic_tube.data.chat import IGNORE_INDEX, ChatTemplateError, LabelMode, encode_chat, encode_prompt
from semantic_tube.data.collator import STPCollator, encode_examples
from semantic_tube.data.messages import ChatExample, DataError
from semantic_tube.losses.sampling import GapOrigin, KeyedDraws, STPForm
from semantic_tube.methods.objectives import STPObjective
from semantic_tube.methods.options import Trajectory
from semantic_tube.training.config import STPTrainingArguments
from tests.chat_templates import TEMPLATES, template_tokenizer

# A short answer ("s") also occurs in the next turn's header (`assistant`, `<|im_start|>`): the
# spans must still be the turns' own.
TWO_TURNS = ChatExample(user="what is 12 + 30?", assistant="The answer is 42.", history=(("lines with a vowel", "s"),), source="c.jsonl:3")
CONTENTS = ["lines with a vowel", "s", "what is 12 + 30?", "The answer is 42."]
# The NTP labels of TWO_TURNS (label_mode answer), decoded, written out by hand from each template:
# every assistant content and the token closing its turn; after the last, whatever ends the text.
LABELS = {
    "chatml": "s<|im_end|>The answer is 42.<|im_end|>\n",
    "qwen2.5": "s<|im_end|>The answer is 42.<|im_end|>\n",
    "qwen3": "s<|im_end|>The answer is 42.<|im_end|>\n",
    "llama3": "s<|eot_id|>The answer is 42.<|eot_id|>",
    "gemma3": "s<end_of_turn>The answer is 42.<end_of_turn>\n",
    "mistral": "s</s> The answer is 42.</s>",  # the template's space before an answer: its own token before "s", inside "ĠThe"
    "phi3": "s<|end|>The answer is 42.<|end|>\n<|endoftext|>",
}
# What sits between the first answer and the second question (the bypassed stretch), by hand.
BETWEEN = {
    "chatml": "<|im_end|>\n<|im_start|>user\n",
    "qwen2.5": "<|im_end|>\n<|im_start|>user\n",
    "qwen3": "<|im_end|>\n<|im_start|>user\n",
    "llama3": "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n",
    "gemma3": "<end_of_turn>\n<start_of_turn>user\n",
    "mistral": "</s>[INST] ",
    "phi3": "<|end|>\n<|user|>\n",
}


def encode(name, example=TWO_TURNS, **options):
    return encode_chat(template_tokenizer(name), example, max_length=512, template_kwargs=TEMPLATES[name].kwargs, **options)


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_each_turn_span_is_its_content(name):
    tokenizer, encoded = template_tokenizer(name), encode(name)
    decoded = [tokenizer.decode(encoded.input_ids[a:b]) for a, b in encoded.segments]
    # Mistral's space before an answer merges into "The" (one token "ĠThe") but not into "s" ("Ġ", "s")
    expected = [" " + text if name == "mistral" and i == 3 else text for i, text in enumerate(CONTENTS)]
    assert decoded == expected
    assert (encoded.query_span, encoded.answer_span) == tuple(encoded.segments[2:])  # the last exchange
    ends = [b for _, b in encoded.segments[:-1]]
    starts = [a for a, _ in encoded.segments[1:]]
    assert all(end <= start for end, start in zip(ends, starts))
    assert tokenizer.decode(encoded.input_ids[ends[1] : starts[1]]) == BETWEEN[name]


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_labels_are_every_answer_and_its_end_of_turn_token(name):
    tokenizer, encoded = template_tokenizer(name), encode(name)
    assert tokenizer.decode([label for label in encoded.labels if label != IGNORE_INDEX]) == LABELS[name]
    first, last = encoded.segments[1], encoded.segments[3]
    assert encoded.labels[: first[0]] == [IGNORE_INDEX] * first[0]
    assert encoded.labels[first[0] : first[1] + 1] == encoded.input_ids[first[0] : first[1] + 1]
    assert set(encoded.labels[first[1] + 1 : last[0]]) == {IGNORE_INDEX}
    assert encode(name, label_mode=LabelMode.ALL).labels == encoded.input_ids


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_the_prompt_carries_the_history_and_is_a_prefix_of_training(name):
    tokenizer, encoded = template_tokenizer(name), encode(name)
    prompt = encode_prompt(tokenizer, TWO_TURNS, template_kwargs=TEMPLATES[name].kwargs)
    assert encoded.input_ids[: len(prompt)] == prompt and len(prompt) <= encoded.segments[3][0]
    assert "lines with a vowel" in tokenizer.decode(prompt)


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_a_single_turn_row_is_encoded_as_one_query_and_one_answer(name):
    tokenizer = template_tokenizer(name)
    single = ChatExample(user="lines with a vowel", assistant="s")
    encoded = encode(name, single)
    assert encoded.segments is None
    assert tokenizer.decode(encoded.input_ids[slice(*encoded.query_span)]) == "lines with a vowel"
    assert tokenizer.decode(encoded.input_ids[slice(*encoded.answer_span)]).strip() == "s"


@pytest.mark.parametrize("name", sorted(TEMPLATES))
@pytest.mark.parametrize("form", [STPForm.TUBE, STPForm.ANCHORED, STPForm.ZERO])
def test_no_template_token_is_drawn(name, form, tmp_path):
    """Through the collator and STP's own draw: every drawn position and every crossed gap's
    edges (the states a bypassed displacement reads) lie inside some turn's content."""
    tokenizer = template_tokenizer(name)
    single = ChatExample(user="lines with a vowel", assistant="The answer is 42.")
    items = encode_examples(tokenizer, [TWO_TURNS, single], max_length=512, template_kwargs=TEMPLATES[name].kwargs)
    batch = STPCollator(pad_token_id=tokenizer.pad_token_id)([items[0], items[1]])
    assert batch["segment_spans"].shape == (2, 4, 2)
    options = STPTrainingArguments(output_dir=str(tmp_path), stp_draws=256, stp_form=form, report_to="none", use_cpu=True)
    assert options.trajectory is Trajectory.CONTENT and options.gap_origin_of(form) is GapOrigin.ANSWER_START
    drawn = STPObjective(options).draw(batch, KeyedDraws(torch.tensor([1, 2])))
    for row in range(2):
        content = torch.zeros(batch["input_ids"].shape[1], dtype=torch.bool)
        for a, b in batch["segment_spans"][row].tolist():
            content[a:b] = True
        positions = drawn["stp_positions"][row]
        assert content[positions[positions >= 0]].all()
        gaps = drawn["stp_skip"][row]
        active = gaps[gaps[:, 1] > gaps[:, 0]]
        assert content[active[:, 0] - 1].all() and content[active[:, 1] - 1].all()
        assert len(active) == (3 if row == 0 else 1)


def test_qwen3_with_thinking_off_prompts_with_the_empty_think_block():
    """enable_thinking=false (chat_template_kwargs) puts Qwen3's empty <think> block into the
    generation prompt, as its training text has it before the last answer: a template stretch,
    bypassed and never labelled. Without it the prompt lacks the block that training shows."""
    tokenizer, kwargs = template_tokenizer("qwen3"), TEMPLATES["qwen3"].kwargs
    encoded = encode("qwen3")
    prompt = encode_prompt(tokenizer, TWO_TURNS, template_kwargs=kwargs)
    assert tokenizer.decode(prompt).endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    assert len(prompt) == encoded.segments[3][0]
    assert "<think>" not in tokenizer.decode(encoded.input_ids[: encoded.segments[2][1]])  # earlier answers have none
    assert not tokenizer.decode(encode_prompt(tokenizer, TWO_TURNS)).endswith("</think>\n\n")


def test_mistral_drops_the_system_turn_in_training_which_is_refused():
    """Mistral v0.3 folds the system text into the last user turn only while it is the last turn:
    the prompt carries it, the training text does not."""
    with pytest.raises(ChatTemplateError, match="differently from the start"):
        encode("mistral", ChatExample(**{**vars(TWO_TURNS), "system": "Be brief."}))


def test_gemma_folds_the_system_into_the_first_user_turn():
    tokenizer = template_tokenizer("gemma3")
    encoded = encode("gemma3", ChatExample(**{**vars(TWO_TURNS), "system": "Be brief."}))
    assert [tokenizer.decode(encoded.input_ids[a:b]) for a, b in encoded.segments] == CONTENTS
    assert "Be brief." in tokenizer.decode(encoded.input_ids[: encoded.segments[0][0]])


def test_an_assistant_turn_the_template_drops_is_an_error_naming_it():
    tokenizer = template_tokenizer("chatml")
    tokenizer.chat_template = (
        "{% for m in messages %}{% if m['role'] != 'assistant' or loop.last %}"
        "{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>\n' }}{% endif %}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
    )
    with pytest.raises(DataError, match=r"c.jsonl:3: messages\[1\]: the chat template drops this 'assistant' turn"):
        encode_chat(tokenizer, TWO_TURNS, max_length=512)


def test_max_length_keeps_the_turns_that_fit_and_refuses_when_none_does():
    tokenizer = template_tokenizer("chatml")
    full = encode("chatml")
    first_answer_end = full.segments[1][1]
    cut = encode_chat(tokenizer, TWO_TURNS, max_length=full.segments[3][1])  # the last answer's end-of-turn token cut
    assert cut.input_ids == full.input_ids[: first_answer_end + 1] and cut.segments == full.segments[:2]
    assert tokenizer.decode([label for label in cut.labels if label != IGNORE_INDEX]) == "s<|im_end|>"
    with pytest.raises(DataError, match=r"c.jsonl:3: messages\[1\]: max_length=4 cuts every assistant turn"):
        encode_chat(tokenizer, TWO_TURNS, max_length=4)
    skipped = []
    with pytest.raises(DataError, match="no trainable examples"):
        encode_examples(tokenizer, [TWO_TURNS], max_length=4, skip_invalid=True, skipped=skipped)
