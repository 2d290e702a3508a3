"""STPSFTTrainer on conversations of several exchanges (messages, prompt-completion, ShareGPT) and
on plain text: parity with SFTTrainer at lambda 0, the segments of our own data path, packing."""

import pytest

pytest.importorskip("datasets", reason="the trl extra is not installed (pip install -e '.[trl]')")
pytest.importorskip("trl", reason="the trl extra is not installed (pip install -e '.[trl]')")

from trl import SFTConfig, SFTTrainer

from semantic_tube.data.chat import LabelMode
from semantic_tube.data.collator import encode_examples
from semantic_tube.data.messages import example_from_record
from semantic_tube.trl import STPSFTConfig
from tests.trl_integration.test_sft import batch_losses, common, logged, sft

WORDS = ["dog", "truck", "ring", "lake"]


def conversation(i: int) -> list[dict]:
    word = WORDS[i % 4]
    turns = [{"role": "system", "content": "Convert natural language to regular expression."}] if i % 2 else []
    for j in range(1 + i % 3):
        turns += [{"role": "user", "content": f"lines with '{word}' {j} times"}, {"role": "assistant", "content": f"({word}){{{j}}}.*"}]
    return turns


ROWS = {
    "messages": [{"messages": conversation(i)} for i in range(16)],
    "prompt-completion": [{"prompt": conversation(i)[:-1], "completion": conversation(i)[-1:]} for i in range(16)],
    "sharegpt": [{"conversations": [{"from": {"user": "human", "assistant": "gpt"}.get(t["role"], t["role"]), "value": t["content"]} for t in conversation(i)]} for i in range(16)],
    "text": [{"text": f"The {WORDS[i % 4]} by the lake, {i} times over, with a ring."} for i in range(16)],
}


@pytest.mark.parametrize("form", ["messages", "text"])
def test_lambda_zero_gives_the_plain_sft_losses(tiny_dir, tmp_path, form):
    plain = sft(tiny_dir, ROWS[form], SFTConfig(**common(tmp_path / "plain")), SFTTrainer)
    plain.train()
    diagnostic = sft(tiny_dir, ROWS[form], STPSFTConfig(**common(tmp_path / "diag"), stp_lambda=0.0, stp_log_when_off=True))
    diagnostic.train()
    assert len(logged(plain)) == 3 and logged(diagnostic) == logged(plain)
    assert len(logged(diagnostic, "stp_loss")) == 3  # STP computed on every batch, without gradient


@pytest.mark.parametrize("form", ["messages", "prompt-completion", "sharegpt", "text"])
def test_segments_are_our_data_paths(tiny_dir, tmp_path, form):
    """TRL tokenizes (and labels); the segments equal `stp train`'s on the same rows, and the
    ShareGPT roles are rendered as user / assistant."""
    trainer = sft(tiny_dir, ROWS[form], STPSFTConfig(**common(tmp_path)))
    tokenizer = trainer.processing_class
    examples = [example_from_record(row, "rows", i + 1) for i, row in enumerate(ROWS[form])]
    ours = encode_examples(tokenizer, examples, max_length=256, label_mode=LabelMode.ALL)
    assert len(trainer.train_dataset) == len(ours) == 16
    for item in trainer.train_dataset:
        expected = ours[item["example_index"]]
        assert item["input_ids"] == expected["input_ids"]
        if form == "messages":
            assert item["labels"] == expected["labels"]
        assert item["segments"] == [list(span) for span in expected.get("segments") or (expected["query_span"], expected["answer_span"])]
        assert (item["query_span"], item["answer_span"]) == (list(expected["query_span"]), list(expected["answer_span"]))
    if form == "sharegpt":
        assert "<|im_start|>human" not in tokenizer.decode(trainer.train_dataset[0]["input_ids"])
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(6)])
    assert ("segment_spans" in batch) == (form != "text")


def test_loss_identity_on_conversations(tiny_dir, tmp_path):
    trainer = sft(tiny_dir, ROWS["messages"], STPSFTConfig(**common(tmp_path), stp_lambda=0.5))
    trainer.train()
    entries = [entry for entry in trainer.state.log_history if "loss" in entry]
    assert len(entries) == 3
    for entry in entries:
        assert entry["loss"] == pytest.approx(entry["ntp_loss"] + 0.5 * entry["stp_loss"], rel=1e-4, abs=1e-4)


@pytest.mark.parametrize("form", ["messages", "text"])
def test_packed_conversations_and_text_give_the_unpacked_losses(tiny_dir, tmp_path, form):
    unpacked = sft(tiny_dir, ROWS[form], STPSFTConfig(**common(tmp_path / "a"), stp_lambda=0.5))
    packed = sft(tiny_dir, ROWS[form], STPSFTConfig(**common(tmp_path / "b", packing=True), stp_lambda=0.5))
    assert len(packed.train_dataset) < len(unpacked.train_dataset)
    expected = batch_losses(unpacked, list(unpacked.train_dataset))
    found = batch_losses(packed, list(packed.train_dataset))
    assert found.keys() == expected.keys() >= {"loss", "ntp_loss", "stp_loss"}
    for key in expected:
        assert found[key] == pytest.approx(expected[key], rel=1e-5, abs=1e-6), key


def test_truncation_that_cuts_every_answer_is_an_error(tiny_dir, tmp_path):
    from semantic_tube.data.messages import DataError

    long = {"messages": [{"role": "user", "content": "lines with the string dog " * 20}, {"role": "assistant", "content": "a"},
                         {"role": "user", "content": "b"}, {"role": "assistant", "content": "c"}]}  # fmt: skip
    with pytest.raises(DataError, match=r"train:2: messages: TRL's max_length=16 cuts every assistant turn"):
        sft(tiny_dir, [ROWS["messages"][0], long], STPSFTConfig(**common(tmp_path, max_length=16)))
