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


def test_packing_lays_the_batch_in_one_row_with_spans_per_example(tmp_path):
    tokenizer = tiny_tokenizer("chatml")
    dataset = load_encoded_file(tokenizer, write_file(tmp_path / "d.jsonl", ["dog", "dog.*truck.*ring.*lake", "(ring)"]), max_length=512)
    items = [dataset[i] for i in range(3)]
    padded = STPCollator(pad_token_id=tokenizer.pad_token_id)(items)
    packed = STPCollator(pad_token_id=tokenizer.pad_token_id, packing=True)(items)
    lengths = [len(item["input_ids"]) for item in items]
    assert packed["input_ids"].shape == (1, sum(lengths)) and "attention_mask" not in packed
    assert packed["input_ids"][0].tolist() == [token for item in items for token in item["input_ids"]]
    assert packed["position_ids"][0].tolist() == [p for n in lengths for p in range(n)]
    assert packed["cu_seq_lens_q"].tolist() == [0, lengths[0], lengths[0] + lengths[1], sum(lengths)]
    # each example's first label would be the target of the previous example's last token
    starts = [0, lengths[0], lengths[0] + lengths[1]]
    assert all(packed["labels"][0, start] == IGNORE_INDEX for start in starts)
    assert (packed["labels"] != IGNORE_INDEX).sum() == (padded["labels"][:, 1:] != IGNORE_INDEX).sum()
    # spans stay in each example's own coordinates, with where the example starts
    assert torch.equal(packed["query_span"], padded["query_span"]) and torch.equal(packed["answer_span"], padded["answer_span"])
    assert packed["example_row"].tolist() == [0, 0, 0] and packed["example_offset"].tolist() == starts
    assert "example_row" not in padded
    multiple = STPCollator(pad_token_id=tokenizer.pad_token_id, pad_to_multiple_of=64, packing=True)(items)
    assert multiple["input_ids"].shape[1] % 64 == 0 and multiple["labels"][0, sum(lengths) :].eq(IGNORE_INDEX).all()


def test_collate_spans_reads_packed_rows():
    """TRL's packed rows: several examples per row with seq_lengths; padding-free puts the rows in one."""
    from semantic_tube.data.collator import collate_spans

    rows = [
        {"input_ids": [0] * 9, "seq_lengths": [5, 4], "query_span": [[1, 2], [0, 1]], "answer_span": [[3, 5], [2, 4]], "example_index": [7, 3]},
        {"input_ids": [0] * 6, "seq_lengths": [6], "query_span": [[1, 3]], "answer_span": [[4, 6]], "example_index": [1]},
    ]
    per_row = collate_spans(rows)
    assert per_row["example_row"].tolist() == [0, 0, 1] and per_row["example_offset"].tolist() == [0, 5, 0]
    assert per_row["example_index"].tolist() == [7, 3, 1] and per_row["query_span"].tolist() == [[1, 2], [0, 1], [1, 3]]
    flat = collate_spans(rows, padding_free=True)
    assert flat["example_row"].tolist() == [0, 0, 0] and flat["example_offset"].tolist() == [0, 5, 9]
    with pytest.raises(ValueError, match="2 examples but spans"):
        collate_spans([dict(rows[0], example_index=[7])])
