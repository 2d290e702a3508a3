"""Reading chat examples in the messages format of the paper's data sets.

One JSON object per line: {"messages": [{"role": "system", "content": ...},
{"role": "user", "content": ...}, {"role": "assistant", "content": ...}]}; the system turn is
optional. TRL's prompt-completion rows work too: {"prompt": [system and user turns], "completion":
[the assistant turn]}, or each a plain string (the user's and the assistant's content). A line may also carry the paper's two views, `"text"` (the query view) and `"code"` (the
answer view), each a string or a list holding one {"role", "content"} turn, as the paper's
HellaSwag file does (the context, and the correct ending); STP then runs from one to the other.
Every problem is reported as a `DataError` naming the file, the 1-based line and
the field, so a user can fix the line without guessing.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


class DataError(ValueError):
    """A malformed line of a data file: `path:line: field: problem`."""

    def __init__(self, path: str | Path, line: int, field_name: str, problem: str):
        self.path, self.line, self.field, self.problem = str(path), line, field_name, problem
        super().__init__(f"{path}:{line}: {field_name}: {problem}")


@dataclass(frozen=True)
class ChatExample:
    """One query/answer pair and where it came from."""

    user: str
    assistant: str
    system: str | None = None
    source: str = ""  # "path:line", for error messages and predictions files
    text: str | None = None  # query view (Appendix G), when the line has one
    code: str | None = None  # answer view

    def messages(self, *, with_answer: bool = True) -> list[dict[str, str]]:
        turns = [{"role": "system", "content": self.system}] if self.system else []
        turns.append({"role": "user", "content": self.user})
        if with_answer:
            turns.append({"role": "assistant", "content": self.assistant})
        return turns


@dataclass
class ChatData:
    """The examples of a file, and the lines skipped when `skip_invalid` was asked for."""

    examples: list[ChatExample]
    skipped: list[DataError] = field(default_factory=list)


def parse_chat_line(text: str, path: str | Path, line: int) -> ChatExample:
    """Parse one JSONL line into a `ChatExample`, raising `DataError` on any problem."""
    try:
        record = json.loads(text)
    except json.JSONDecodeError as err:
        raise DataError(path, line, "json", f"invalid JSON ({err.msg} at column {err.colno})") from None
    return chat_example_from_record(record, path, line)


def chat_example_from_record(record, path: str | Path, line: int) -> ChatExample:
    """One example from a row in the messages format or TRL's prompt-completion format, raising
    `DataError` (path, line, field) on any problem.

    messages: a list of {"role", "content"} turns, one system (optional), user and assistant
    each. prompt / completion: each a list of such turns (the prompt's system and user, the
    completion's assistant turn) or a string (the user's and the assistant's content). Either may
    carry the `text` and `code` views.
    """
    if isinstance(record, Mapping) and "messages" not in record and "prompt" in record and "completion" in record:
        turns = []
        for name in ("prompt", "completion"):
            value = record[name]
            if isinstance(value, str):
                value = [{"role": "user" if name == "prompt" else "assistant", "content": value}]
            if not isinstance(value, list):
                raise DataError(path, line, name, "expected a string or a list of {'role', 'content'} turns")
            turns.extend(value)
        record = {**record, "messages": turns}
    if not isinstance(record, Mapping) or not isinstance(record.get("messages"), list):
        raise DataError(path, line, "messages", "expected an object with a list under 'messages' (or 'prompt' and 'completion')")
    contents: dict[str, str] = {}
    for i, turn in enumerate(record["messages"]):
        if not isinstance(turn, Mapping) or "role" not in turn or "content" not in turn:
            raise DataError(path, line, f"messages[{i}]", "expected an object with 'role' and 'content'")
        role, content = turn["role"], turn["content"]
        if role not in ("system", "user", "assistant"):
            raise DataError(path, line, f"messages[{i}].role", f"unknown role {role!r}")
        if role in contents:
            raise DataError(path, line, f"messages[{i}].role", f"a second {role!r} turn (one of each is supported)")
        if not isinstance(content, str):
            raise DataError(path, line, f"messages[{i}].content", "expected a string")
        contents[role] = content
    for role in ("user", "assistant"):
        if role not in contents:
            raise DataError(path, line, f"messages.{role}", f"missing {role!r} turn")
        if not contents[role].strip():
            raise DataError(path, line, f"messages.{role}", f"empty {role!r} content")
    return ChatExample(
        user=contents["user"],
        assistant=contents["assistant"],
        system=contents.get("system") or None,
        source=f"{path}:{line}",
        text=_view(record, "text", path, line),
        code=_view(record, "code", path, line),
    )


def _view(record: dict, name: str, path: str | Path, line: int) -> str | None:
    """The content of an optional view field: a string, or a list of one turn with a 'content' string."""
    if name not in record or record[name] is None:
        return None
    value = record[name]
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], Mapping):
        value = value[0].get("content")
    if not isinstance(value, str) or not value.strip():
        raise DataError(path, line, name, "expected a non-empty string or a list of one {'role', 'content'} turn")
    return value


def read_chat_jsonl(path: str | Path, *, skip_invalid: bool = False) -> ChatData:
    """Read every example of a JSONL file in the messages (or prompt-completion) format.

    Blank lines are ignored. With `skip_invalid`, malformed lines are collected in
    `ChatData.skipped` instead of raising.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data file not found: {path}")
    data = ChatData(examples=[])
    with path.open(encoding="utf-8") as handle:
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                data.examples.append(parse_chat_line(text, path, number))
            except DataError as err:
                if not skip_invalid:
                    raise
                data.skipped.append(err)
    if not data.examples:
        raise DataError(path, 0, "file", "no valid examples")
    return data


def read_chat_dataset(name: str | Path, *, split: str = "train", skip_invalid: bool = False) -> ChatData:
    """Read every row of a `datasets` data set in the messages (or prompt-completion) format:
    a folder written by `save_to_disk` (`load_from_disk`), or anything `datasets.load_dataset`
    loads from a local path (a folder of JSON/Parquet/CSV files, a loading script). Of a
    `DatasetDict`, the `split` is read. Errors name the data set and the 1-based row.
    """
    try:
        import datasets
    except ImportError as err:
        raise ImportError("reading a `datasets` data set needs the datasets library: pip install 'semantic-tube[trl]'") from err

    path = Path(name)
    saved = path.is_dir() and ((path / "dataset_info.json").is_file() or (path / "dataset_dict.json").is_file())
    loaded = datasets.load_from_disk(str(path)) if saved else datasets.load_dataset(str(name))
    if isinstance(loaded, (datasets.DatasetDict, datasets.IterableDatasetDict)):
        if split not in loaded:
            raise DataError(name, 0, "split", f"no {split!r} split (it has: {', '.join(loaded)})")
        loaded = loaded[split]
    data = ChatData(examples=[])
    for number, row in enumerate(loaded, start=1):
        try:
            data.examples.append(chat_example_from_record(row, name, number))
        except DataError as err:
            if not skip_invalid:
                raise
            data.skipped.append(err)
    if not data.examples:
        raise DataError(name, 0, "file", "no valid examples")
    return data


def write_chat_jsonl(path: str | Path, examples: list[ChatExample]) -> None:
    """Write examples in the messages format (the inverse of `read_chat_jsonl`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for example in examples:
            record: dict = {"messages": example.messages()}
            if example.text is not None:
                record["text"] = [{"role": "user", "content": example.text}]
            if example.code is not None:
                record["code"] = [{"role": "assistant", "content": example.code}]
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def nested_subset(examples: list[ChatExample], fraction: float, seed: int, limit: int | None = None) -> list[ChatExample]:
    """The first ceil(fraction * N) examples of one seeded shuffle, in the file's order, where
    N = len(examples), or `limit` when smaller (a pool cut from the same shuffle first).

    Subsets of one seed are nested (the 1/4 subset lies inside the 1/2 subset, and inside the pool)
    and do not depend on anything else (method, training seed), so runs at different fractions, or
    of different methods, differ only in what is compared (the paper's data-efficiency protocol,
    Sec. 4.3).
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"a data fraction must be in (0, 1], got {fraction}")
    if limit is not None and limit < 1:
        raise ValueError(f"an example limit must be >= 1, got {limit}")
    pool = len(examples) if limit is None else min(limit, len(examples))
    if fraction == 1 and pool == len(examples):
        return list(examples)
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    kept = sorted(order[: max(1, math.ceil(fraction * pool))])
    return [examples[i] for i in kept]
