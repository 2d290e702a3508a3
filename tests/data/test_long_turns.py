"""A turn that max_length cuts is named for what it is (issue 21.9): an over-long user (or
system) turn that leaves no room for the answer is the prompt's fault, not `messages.assistant`."""

import pytest

from semantic_tube.data.chat import encode_chat
from semantic_tube.data.messages import ChatExample, DataError
from tests.tiny_models import tiny_tokenizer

LONG = "lines with a vowel before a number " * 6


@pytest.mark.parametrize(
    ("example", "max_length", "field", "problem"),
    [
        (ChatExample(user=LONG, assistant="(a).*", source="f.jsonl:3"), 20, "messages.user", "max_length=20 cuts the prompt: the answer would start at token "),
        (ChatExample(user="q", assistant="a", system=LONG, source="f.jsonl:3"), 10, "messages.system", "max_length=10 cuts the prompt"),
        (ChatExample(user="q", assistant=LONG, source="f.jsonl:3"), 20, "messages.assistant", "max_length=20 cuts the answer (it needs "),
    ],
)
def test_the_turn_max_length_cuts_is_the_one_named(example, max_length, field, problem):
    with pytest.raises(DataError) as info:
        encode_chat(tiny_tokenizer("chatml"), example, max_length=max_length)
    assert info.value.field == field and info.value.line == 3 and info.value.problem.startswith(problem)
