"""Dynamic padding and the span tensors the trainer reads."""

import json

import pytest
import torch

from semantic_tube.data.chat import IGNORE_INDEX
from semantic_tube.data.collator import STPCollator, load_encoded_file
from semantic_tube.data.messages import DataError
from tests.tiny_models import tiny_tokenizer


def write_file(path, answers):
    with path.open("w") as handle:
        for answer in answers:
            turns = [{"role": "user", "content": "lines with dog"}, {"role": "assistant", "content": answer}]
            handle.write(json.dumps({"messages": turns}) + "\n")
    return path


def test_batches_pad_to_their_own_longest_example(tmp_path):
    tokenizer = tiny_tokenizer("chatml")
    dataset = load_encoded_file(tokenizer, write_file(tmp_path / "d.jsonl", ["dog", "dog.*truck.*ring.*lake"]), max_length=512)
    batch = STPCollator(pad_token_id=tokenizer.pad_token_id)([dataset[0], dataset[1]])
    lengths = [len(dataset[0]["input_ids"]), len(dataset[1]["input_ids"])]
    assert batch["input_ids"].shape == (2, max(lengths))
    assert batch["attention_mask"].sum(1).tolist() == lengths
    short = lengths.index(min(lengths))
    assert (batch["labels"][short, min(lengths) :] == IGNORE_INDEX).all()
    assert batch["query_span"].tolist() == [list(dataset[0]["query_span"]), list(dataset[1]["query_span"])]
    assert batch["answer_span"].dtype == torch.long
    assert batch["example_index"].tolist() == [0, 1]
    multiple = STPCollator(pad_token_id=tokenizer.pad_token_id, pad_to_multiple_of=8)([dataset[0]])
    assert multiple["input_ids"].shape[1] % 8 == 0


def test_too_long_answers_error_or_are_skipped(tmp_path):
    tokenizer = tiny_tokenizer("chatml")
    path = write_file(tmp_path / "d.jsonl", ["dog", "dog.*truck.*ring.*lake" * 20])
    with pytest.raises(DataError, match=r"d.jsonl:2: messages.assistant"):
        load_encoded_file(tokenizer, path, max_length=64)
    dataset = load_encoded_file(tokenizer, path, max_length=64, skip_invalid=True)
    assert len(dataset) == 1 and [err.line for err in dataset.skipped] == [2]
