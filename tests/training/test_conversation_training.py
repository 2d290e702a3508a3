"""STPTrainer on conversations and plain text: single exchanges through the conversation path give
today's losses bit for bit, plain text gives the pure loss on its own tokens, packing gives the
padded losses, and a file mixing every row form trains."""

import json

import pytest
import torch

from semantic_tube.data.collator import STPCollator, load_encoded_file
from semantic_tube.losses.sampling import KeyedDraws, hash_keys, sample_trajectory_indices
from semantic_tube.losses.stp import stp_loss
from semantic_tube.training.config import STPTrainingArguments
from semantic_tube.training.model import load_model, load_tokenizer
from semantic_tube.training.trainer import STPTrainer

SYSTEM = {"role": "system", "content": "Convert natural language to regular expression."}


def turn(role, content):
    return {"role": role, "content": content}


def write_rows(path, n=12):
    """Single exchanges, two- and three-exchange conversations (messages and ShareGPT), and plain text."""
    rows = []
    for i in range(n):
        word = ["dog", "truck", "ring", "lake"][i % 4]
        kind = i % 4
        if kind == 0:
            rows.append({"messages": [SYSTEM, turn("user", f"lines with '{word}'"), turn("assistant", f"({word}).*")]})
        elif kind == 1:
            rows.append({"messages": [turn("user", f"lines with '{word}'"), turn("assistant", f".*({word}).*"),
                                      turn("user", "and before a number"), turn("assistant", f"({word}).*([0-9]).*")]})  # fmt: skip
        elif kind == 2:
            names = ["human", "gpt"] * 3
            values = [f"lines with {word}", f"{word}", "a vowel too", "[AEIOU]", "now both", f"({word}).*[AEIOU].*"]
            rows.append({"conversations": [{"from": "system", "value": SYSTEM["content"]}] + [{"from": f, "value": v} for f, v in zip(names, values)]})
        else:
            rows.append({"text": f"The {word} stood by the lake with a truck and a ring, {i} times."})
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


@pytest.fixture(scope="module")
def mixed_file(tmp_path_factory):
    return write_rows(tmp_path_factory.mktemp("mixed") / "train.jsonl")


def make(tiny_dir, data_file, tmp_path, **overrides):
    tokenizer = load_tokenizer(str(tiny_dir))
    values = dict(
        output_dir=str(tmp_path), max_steps=6, per_device_train_batch_size=4, learning_rate=5e-3, logging_steps=2,
        report_to="none", save_strategy="no", seed=82, disable_tqdm=True, use_cpu=True, stp_lambda=0.5,
    ) | overrides  # fmt: skip
    return STPTrainer(
        model=load_model(str(tiny_dir), dtype="float32"),
        args=STPTrainingArguments(**values),
        train_dataset=load_encoded_file(tokenizer, data_file, max_length=256),
        data_collator=STPCollator(pad_token_id=tokenizer.pad_token_id),
        processing_class=tokenizer,
    )


def batch_losses(trainer, batch) -> dict[str, float]:
    trainer.model.train()
    trainer.current_gradient_accumulation_steps = 1
    loss = trainer.compute_loss(trainer.model, trainer._prepare_inputs(dict(batch)))
    return {key: records[-1][0].item() for key, records in trainer._stp_metrics["train"].items()} | {"loss": loss.item()}


@pytest.mark.parametrize("options", [{}, {"stp_form": "span", "stp_draws": 3}, {"stp_form": "anchored"}, {"trajectory": "inst"}])
def test_single_exchanges_through_the_segment_path_give_todays_losses_exactly(tiny_dir, train_file, tmp_path, options):
    """The same single-exchange batch as today (query_span, answer_span) and with its segments
    given explicitly (segment_spans = [query, answer] plus an empty one): the same draws and
    losses, bit for bit."""
    trainer = make(tiny_dir, train_file, tmp_path, **options)
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(6)])
    assert "segment_spans" not in batch
    today = batch_losses(trainer, batch)
    segments = torch.stack([batch["query_span"], batch["answer_span"], batch["answer_span"][:, 1:].repeat(1, 2)], dim=1)
    through_segments = batch_losses(trainer, {**batch, "segment_spans": segments})
    assert through_segments == today


def test_mixed_rows_are_read_and_encoded(tiny_dir, mixed_file):
    tokenizer = load_tokenizer(str(tiny_dir))
    items = load_encoded_file(tokenizer, mixed_file, max_length=256)
    assert [len(items[i].get("segments") or ()) for i in range(4)] == [0, 4, 6, 0]
    text = items[3]
    assert text["labels"] == text["input_ids"]  # NTP on every token of plain text
    (q0, q1), (a0, a1) = text["query_span"], text["answer_span"]
    assert q0 == q1 == a0 == 0  # the query is empty: the trajectory is the text's own tokens, no gap
    assert tokenizer.decode(text["input_ids"][a0:a1]) == json.loads(mixed_file.read_text().splitlines()[3])["text"]
    assert tokenizer.decode(text["input_ids"][a1:]) == tokenizer.eos_token  # TRL's eos after the text, not in the trajectory


def test_stp_on_plain_text_is_the_pure_loss_on_its_own_tokens(tiny_dir, mixed_file, tmp_path):
    """Text rows only: the trainer's STP equals stp_loss on the last layer's states at positions
    drawn by hand: trajectory index i is token a0 + i of the text (no template, no gap)."""
    trainer = make(tiny_dir, mixed_file, tmp_path, stp_draws=4)
    items = [trainer.train_dataset[i] for i in (3, 7, 11)]
    batch = trainer.data_collator(items)
    found = batch_losses(trainer, batch)["stp_loss"]
    keys = hash_keys(82, 0, 1, batch["example_index"])
    lengths = batch["answer_span"][:, 1] - batch["answer_span"][:, 0]
    index = sample_trajectory_indices(lengths, 4, "tube", KeyedDraws(keys))
    positions = batch["answer_span"][:, :1].view(-1, 1, 1) + index
    with torch.no_grad():
        hidden = trainer.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], output_hidden_states=True).hidden_states[-1]
    assert found == pytest.approx(stp_loss(hidden, positions).item(), rel=1e-6)


@pytest.mark.parametrize("options", [{}, {"stp_form": "span", "stp_draws": 2}, {"stp_log_forms": "tube,span,zero"}])
def test_packed_conversations_and_text_give_the_padded_losses(tiny_dir, mixed_file, tmp_path, options):
    trainer = make(tiny_dir, mixed_file, tmp_path, **options)
    pad = trainer.processing_class.pad_token_id
    items = [trainer.train_dataset[i] for i in range(len(trainer.train_dataset))]
    padded = batch_losses(trainer, STPCollator(pad_token_id=pad)(items))
    packed_batch = STPCollator(pad_token_id=pad, packing=True)(items)
    assert packed_batch["segment_spans"].shape == (12, 6, 2)
    packed = batch_losses(trainer, packed_batch)
    assert packed.keys() == padded.keys()
    for key in padded:
        assert packed[key] == pytest.approx(padded[key], rel=1e-5, abs=1e-6), key


def test_a_file_of_every_row_form_trains_with_the_loss_identity(tiny_dir, mixed_file, tmp_path):
    trainer = make(tiny_dir, mixed_file, tmp_path)
    trainer.train()
    entries = [entry for entry in trainer.state.log_history if "loss" in entry]
    assert len(entries) == 3
    for entry in entries:
        assert entry["loss"] == pytest.approx(entry["ntp_loss"] + 0.5 * entry["stp_loss"], rel=1e-4, abs=1e-4)


def test_methods_of_one_query_and_one_answer_refuse_conversations(tiny_dir, mixed_file, tmp_path):
    trainer = make(tiny_dir, mixed_file, tmp_path, method="two-view")
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(2)])
    with pytest.raises(ValueError, match="method=two-view reads one query and one answer per example"):
        batch_losses(trainer, batch)
