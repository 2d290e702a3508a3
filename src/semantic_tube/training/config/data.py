"""`DataArguments`: the training data (a JSONL file, a `datasets` set or generated NL-RX), how it
is tokenised and labelled, and which subset of it is trained on."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import Enum

from semantic_tube.data.chat import LabelMode
from semantic_tube.data.nlrx import DEFAULT_EXAMPLES, DEFAULT_SEED
from semantic_tube.training.config.numbers import DATA_RANGES, ConfigError, check_numbers


class InvalidLines(str, Enum):
    """What to do with a data line that cannot be trained on."""

    ERROR = "error"  # stop with the file, line and field
    SKIP = "skip"  # leave it out and count it in the log


@dataclass
class DataArguments:
    _argument_group_name = "data"

    train_file: str | None = field(
        default=None,
        metadata={
            "help": "JSONL of messages (or prompt/completion) rows; empty (and no dataset_name) = generated NL-RX data "
            "(see nlrx_*), written into output_dir/data"
        },
    )
    eval_file: str | None = field(default=None, metadata={"help": "messages-format JSONL for the eval loss"})
    dataset_name: str | None = field(
        default=None,
        metadata={
            "help": "instead of train_file: a local `datasets` data set (a save_to_disk folder, or a path datasets.load_dataset "
            "reads) of messages or prompt/completion rows; its train split"
        },
    )
    max_length: int = field(default=512, metadata={"help": "tokens per example; an answer cut by it is an error (or skipped)"})
    label_mode: LabelMode = field(
        default=LabelMode.ANSWER,
        metadata={
            "help": "which tokens get the NTP loss. answer: the answer and its end-of-turn token (this project's default; "
            "the paper does not say); all: every token; reference: as the public reference code's collator, every "
            "token except those equal to the eos id (like-for-like with the paper's numbers)"
        },
    )
    use_views: bool = field(
        default=True,
        metadata={"help": "run STP from a line's `text` view to its `code` view when it has them (Appendix G); false: query to answer"},
    )
    chat_template_kwargs: dict | str | None = field(
        default=None,
        metadata={"help": 'keyword arguments for apply_chat_template, as JSON (e.g. \'{"enable_thinking": false}\'); used in training and evaluation'},
    )
    invalid_lines: InvalidLines = field(default=InvalidLines.ERROR, metadata={"help": "error or skip bad data lines"})
    packing: bool = field(
        default=False,
        metadata={
            "help": "put each batch's examples one after the other in one row, without padding (TRL's padding-free layout): "
            "position ids restart per example so attention stays per example, spans are per example; the same batches "
            "and losses as padded (methods stp and two-view)"
        },
    )
    assistant_only_loss: bool | None = field(
        default=None, metadata={"help": "TRL's name: true = --label_mode answer, false = --label_mode all"}
    )
    completion_only_loss: bool | None = field(
        default=None, metadata={"help": "TRL's name: true = --label_mode answer, false = --label_mode all"}
    )
    train_fraction: float = field(
        default=1.0,
        metadata={"help": "train on this fraction of train_file, a seeded subset nested across fractions (Sec. 4.3)"},
    )
    max_train_examples: int | None = field(
        default=None,
        metadata={
            "help": "train on at most this many examples of train_file: a seeded subset (train_subset_seed) taken before "
            "train_fraction and nested with it, so a large file can stand in for a small data set"
        },
    )
    train_subset_seed: int = field(
        default=0, metadata={"help": "seed of the train_fraction subset; the same for every method and training seed"}
    )
    nlrx_examples: int = field(default=DEFAULT_EXAMPLES, metadata={"help": "generated NL-RX examples (train + test) when no train_file"})
    nlrx_seed: int = field(default=DEFAULT_SEED, metadata={"help": "seed of the generated NL-RX data"})

    def __post_init__(self):
        check_numbers(self, DATA_RANGES)
        self.label_mode = LabelMode(self.label_mode)
        self.invalid_lines = InvalidLines(self.invalid_lines)
        self._apply_trl_loss_names()
        if not 0 < self.train_fraction <= 1:
            raise ConfigError(f"train_fraction must be in (0, 1], got {self.train_fraction}")
        if self.max_train_examples is not None and self.max_train_examples < 1:
            raise ConfigError(f"max_train_examples must be >= 1, got {self.max_train_examples}")
        if self.train_file and self.dataset_name:
            raise ConfigError(f"train_file and dataset_name both given ({self.train_file}, {self.dataset_name}); give one")
        if isinstance(self.chat_template_kwargs, str):
            try:
                self.chat_template_kwargs = json.loads(self.chat_template_kwargs)
            except json.JSONDecodeError as err:
                raise ConfigError(f"chat_template_kwargs: not JSON ({err.msg}): {self.chat_template_kwargs!r}") from None
        if self.chat_template_kwargs is not None and not isinstance(self.chat_template_kwargs, dict):
            raise ConfigError(f"chat_template_kwargs: expected a mapping, got {self.chat_template_kwargs!r}")

    def _apply_trl_loss_names(self) -> None:
        """Map TRL's assistant_only_loss / completion_only_loss onto label_mode (both mean: NTP on
        the answer only); two that disagree are an error, not a silent pick."""
        given = {name: value for name in ("assistant_only_loss", "completion_only_loss") if (value := getattr(self, name)) is not None}
        if len(set(given.values())) > 1:
            raise ConfigError(f"assistant_only_loss and completion_only_loss disagree: {given}")
        if given:
            self.label_mode = LabelMode.ANSWER if next(iter(given.values())) else LabelMode.ALL
