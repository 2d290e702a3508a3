"""Figure 6 of the paper: the singular value spectrum of Enc(Text) - Enc(Code).

Query ("text") and answer ("code") are encoded separately and represented by the last token's
last-layer hidden state, rendered as the reference evaluate.py renders them (`similarity`):
the query as a lone user turn with the generation prompt (the line's system turn left out), and
the answer as a lone assistant turn, also followed by the generation prompt, since the reference
passes add_generation_prompt=True for both. Both embeddings are thus read at the same kind of
position, the end of an assistant header. A template that inserts a default system prompt when
there is none (SmolLM2's) does so on both sides, as there.

If the model maps a query and its answer to nearby points along a shared direction, the
differences concentrate in few singular directions; a flatter spectrum means less structure.
The spectrum is given raw and with each difference scaled to unit length, so a few large
differences cannot dominate it.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from semantic_tube.data.chat import encode_prompt
from semantic_tube.data.messages import ChatExample
from semantic_tube.evaluation.batching import last_layer_states, length_sorted_batches
from semantic_tube.run_folder import write_text_atomic

SPECTRA_FILE = "svd.json"
PLOT_FILE = "svd.png"
RANK_TOLERANCE = 1e-5  # singular values below this fraction of the largest count as zero


def text_code_sequences(
    tokenizer, examples: list[ChatExample], template_kwargs: dict | None = None
) -> tuple[list[list[int]], list[list[int]]]:
    """Token ids of each query and each answer, rendered alone as described above."""
    text = [encode_prompt(tokenizer, ChatExample(user=e.user, assistant=e.assistant), template_kwargs=template_kwargs) for e in examples]
    code = [_answer_alone(tokenizer, e.assistant, template_kwargs) for e in examples]
    return text, code


def _answer_alone(tokenizer, answer: str, template_kwargs: dict | None) -> list[int]:
    turns = [{"role": "assistant", "content": answer}]
    rendered = tokenizer.apply_chat_template(turns, tokenize=False, add_generation_prompt=True, **(template_kwargs or {}))
    return tokenizer(rendered, add_special_tokens=False)["input_ids"]


def encode_last_token(model, tokenizer, sequences: list[list[int]], *, batch_size: int = 16) -> torch.Tensor:
    """(N, hidden) float32: each sequence's last-token hidden state from the last layer."""
    states: list[torch.Tensor | None] = [None] * len(sequences)
    for batch in length_sorted_batches([len(s) for s in sequences], batch_size):
        # left padding: the last column is every sequence's last token
        last = last_layer_states(model, tokenizer.pad_token_id, [sequences[i] for i in batch])[:, -1]
        for i, row in zip(batch, last):
            states[i] = row
    return torch.stack(states)


def text_code_embeddings(
    model, tokenizer, examples: list[ChatExample], *, batch_size: int = 16, template_kwargs: dict | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Enc(Text) and Enc(Code), each (N, hidden)."""
    text, code = text_code_sequences(tokenizer, examples, template_kwargs)
    return tuple(encode_last_token(model, tokenizer, sequences, batch_size=batch_size) for sequences in (text, code))


def difference_spectra(text: torch.Tensor, code: torch.Tensor) -> dict:
    """Singular values of Text - Code, raw and row-normalised, with their numerical ranks."""
    differences = (text - code).double()
    normalized = differences / torch.linalg.vector_norm(differences, dim=1, keepdim=True).clamp_min(1e-12)
    raw_values = torch.linalg.svdvals(differences)
    normalized_values = torch.linalg.svdvals(normalized)
    return {
        "count": int(differences.shape[0]),
        "hidden_size": int(differences.shape[1]),
        "raw": raw_values.tolist(),
        "normalized": normalized_values.tolist(),
        "rank_raw": numerical_rank(raw_values),
        "rank_normalized": numerical_rank(normalized_values),
    }


def numerical_rank(singular_values: torch.Tensor, tolerance: float = RANK_TOLERANCE) -> int:
    """How many singular values exceed `tolerance` times the largest."""
    if singular_values.numel() == 0 or float(singular_values.max()) == 0.0:
        return 0
    return int((singular_values > tolerance * singular_values.max()).sum())


def write_spectra(output_dir: str | Path, spectra: dict) -> tuple[Path, Path]:
    """svd.json and a log-scale plot svd.png of both spectra."""
    folder = Path(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    write_text_atomic(folder / SPECTRA_FILE, json.dumps(spectra, indent=2) + "\n")
    return folder / SPECTRA_FILE, plot_spectra(spectra, folder / PLOT_FILE)


def plot_spectra(spectra: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for axis, key in zip(axes, ("raw", "normalized")):
        values = [max(value, 1e-12) for value in spectra[key]]
        axis.semilogy(range(1, len(values) + 1), values, marker=".", linewidth=1)
        axis.set_title(f"{key} (rank {spectra[f'rank_{key}']})")
        axis.set_xlabel("index")
        axis.set_ylabel("singular value")
    figure.suptitle(f"Enc(Text) - Enc(Code), {spectra['count']} examples")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
