"""Reading examples: conversations in the messages format of the paper's data sets, and plain text.

One JSON object per line: {"messages": [{"role": "system", "content": ...},
{"role": "user", "content": ...}, {"role": "assistant", "content": ...}, ...]}; the system turn is
optional, and any number of user and assistant turns may follow, alternating, starting with a
user turn and ending with an assistant turn. TRL's prompt-completion rows work too: {"prompt":
[system, user and earlier turns], "completion": [the assistant turn]}, or each a plain string
(the user's and the assistant's content), and so does the ShareGPT form {"conversations":
[{"from": "human" | "gpt" | "system", "value": ...}]}. A single-turn line may also carry the
paper's two views, `"text"` (the query view) and `"code"` (the answer view), each a string or a
list holding one {"role", "content"} turn, as the paper's HellaSwag file does (the context, and
the correct ending); STP then runs from one to the other.

Plain text, TRL's language-modelling rows {"text": "..."}, is told apart from the view by what
else the row holds: `text` is plain text only in a row with no turns (no messages, prompt,
completion or conversations, `is_text_record`); beside turns it is always the query view.

Every problem is reported as a `DataError` naming the file, the 1-based line and the field, so a
user can fix the line without guessing.
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
    """One conversation and where it came from: an optional system turn, the earlier exchanges
    (`history`, (user, assistant) pairs, oldest first), then the last user turn and the last
    assistant turn (the one a model generates in evaluation). A single-turn row has no history."""

    user: str
    assistant: str
    system: str | None = None
    source: str = ""  # "path:line", for error messages and predictions files
    text: str | None = None  # query view (Appendix G), when the line has one
    code: str | None = None  # answer view
    history: tuple[tuple[str, str], ...] = ()  # earlier (user, assistant) exchanges

    def messages(self, *, with_answer: bool = True) -> list[dict[str, str]]:
        """The turns as {"role", "content"} dicts; without the answer, the prompt a model answers
        (its earlier exchanges included, as in training)."""
        turns = [{"role": "system", "content": self.system}] if self.system else []
        for user, assistant in self.history:
            turns += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
        turns.append({"role": "user", "content": self.user})
        if with_answer:
            turns.append({"role": "assistant", "content": self.assistant})
        return turns

    @property
    def exchanges(self) -> tuple[tuple[str, str], ...]:
        """Every (user, assistant) exchange in order, the last one included."""
        return (*self.history, (self.user, self.assistant))


@dataclass(frozen=True)
class TextExample:
    """A plain-text row (TRL's language-modelling type, `{"text": "..."}`): no template, no turns;
    NTP on every token and STP over the text's own tokens (continued pretraining)."""

    text: str
    source: str = ""


Example = ChatExample | TextExample


@dataclass
class ChatData:
    """The examples of a file, and the lines skipped when `skip_invalid` was asked for."""

    examples: list[Example]
    skipped: list[DataError] = field(default_factory=list)


def parse_chat_line(text: str, path: str | Path, line: int) -> Example:
    """Parse one JSONL line into a `ChatExample` (or a `TextExample`), raising `DataError` on any problem."""
    try:
        record = json.loads(text)
    except json.JSONDecodeError as err:
        raise DataError(path, line, "json", f"invalid JSON ({err.msg} at column {err.colno})") from None
    return example_from_record(record, path, line)


# Where a row keeps its turns. A row with none of these and a `text` string is plain text; with
# one of them, `text` is the paper's query view (the HellaSwag files), never plain text.
TURN_FIELDS = ("messages", "prompt", "completion", "conversations")
SHAREGPT_ROLES = {"human": "user", "gpt": "assistant", "system": "system", "user": "user", "assistant": "assistant"}
# Roles a chat template may render that are neither query nor answer content for STP: refused by
# name rather than trained as something they are not.
TOOL_ROLES = ("tool", "function", "ipython", "observation", "function_call", "tool_call", "tool_response")


def is_text_record(record) -> bool:
    """Whether a row is plain text: a `text` field and no turns (`TURN_FIELDS`)."""
    return isinstance(record, Mapping) and "text" in record and not any(name in record for name in TURN_FIELDS)


def example_from_record(record, path: str | Path, line: int) -> Example:
    """A `TextExample` for a plain-text row (`is_text_record`), else `chat_example_from_record`'s."""
    if is_text_record(record):
        text = record["text"]
        if not isinstance(text, str) or not text.strip():
            raise DataError(path, line, "text", "expected a non-empty string (a plain-text row: no messages, prompt or conversations)")
        return TextExample(text=text, source=f"{path}:{line}")
    return chat_example_from_record(record, path, line)


def _turn_list(record, path: str | Path, line: int) -> tuple[str, list]:
    """(field name, list of {"role", "content"} turns) from messages, prompt + completion, or ShareGPT conversations."""
    if isinstance(record, Mapping) and "messages" not in record and "prompt" in record and "completion" in record:
        turns = []
        for name in ("prompt", "completion"):
            value = record[name]
            if isinstance(value, str):
                value = [{"role": "user" if name == "prompt" else "assistant", "content": value}]
            if not isinstance(value, list):
                raise DataError(path, line, name, "expected a string or a list of {'role', 'content'} turns")
            turns.extend(value)
        return "messages", turns
    if isinstance(record, Mapping) and "messages" not in record and isinstance(record.get("conversations"), list):
        turns = []
        for i, turn in enumerate(record["conversations"]):
            if isinstance(turn, Mapping) and "from" in turn and "value" in turn:
                role = SHAREGPT_ROLES.get(turn["from"], turn["from"])
                turn = {**{k: v for k, v in turn.items() if k not in ("from", "value")}, "role": role, "content": turn["value"]}
            elif not (isinstance(turn, Mapping) and "role" in turn and "content" in turn):
                raise DataError(path, line, f"conversations[{i}]", "expected an object with 'from' and 'value' (or 'role' and 'content')")
            turns.append(turn)
        return "conversations", turns
    if not isinstance(record, Mapping) or not isinstance(record.get("messages"), list):
        raise DataError(
            path, line, "messages",
            "expected an object with a list under 'messages' (or 'prompt' and 'completion', or 'conversations'), or a 'text' string",
        )  # fmt: skip
    return "messages", record["messages"]


def chat_example_from_record(record, path: str | Path, line: int) -> ChatExample:
    """One conversation from a row in the messages format, TRL's prompt-completion format or the
    ShareGPT form, raising `DataError` (path, line, field) on any problem.

    messages: a list of {"role", "content"} turns: an optional system turn, then user and
    assistant turns alternating, starting with a user turn and ending with an assistant turn.
    prompt / completion: each a list of such turns (the prompt's system, user and earlier turns,
    the completion's assistant turn) or a string (the user's and the assistant's content).
    conversations (ShareGPT): {"from", "value"} turns with roles human, gpt and system. Tool and
    function-call turns (`TOOL_ROLES`, or an assistant turn with `tool_calls`) are refused by
    name. A single-turn row may carry the `text` and `code` views.
    """
    key, turns = _turn_list(record, path, line)
    roles: list[str] = []
    contents: list[str] = []
    for i, turn in enumerate(turns):
        if not isinstance(turn, Mapping) or "role" not in turn or "content" not in turn:
            raise DataError(path, line, f"{key}[{i}]", "expected an object with 'role' and 'content'")
        role, content = turn["role"], turn["content"]
        if role in TOOL_ROLES or (role == "assistant" and turn.get("tool_calls")):
            what = "tool_calls" if role == "assistant" else f"role {role!r}"
            raise DataError(
                path, line, f"{key}[{i}].{'tool_calls' if role == 'assistant' else 'role'}",
                f"{what}: tool and function-call turns are not supported (STP trains on user and assistant content); "
                "drop them, or write their text into a user or assistant turn",
            )  # fmt: skip
        if role not in ("system", "user", "assistant"):
            raise DataError(path, line, f"{key}[{i}].role", f"unknown role {role!r} (expected system, user, assistant; ShareGPT: system, human, gpt)")
        expected = "user" if not roles or roles[-1] in ("system", "assistant") else "assistant"
        if role == "system" and roles:
            raise DataError(path, line, f"{key}[{i}].role", "a 'system' turn after the first turn (only the first turn may be the system's)")
        if role != "system" and role != expected:
            raise DataError(
                path, line, f"{key}[{i}].role",
                f"expected a {expected!r} turn, got {role!r}: roles must alternate user, assistant (after an optional system turn)",
            )  # fmt: skip
        if not isinstance(content, str):
            raise DataError(path, line, f"{key}[{i}].content", "expected a string")
        roles.append(role)
        contents.append(content)
    for role in ("user", "assistant"):
        if role not in roles:
            raise DataError(path, line, f"messages.{role}", f"missing {role!r} turn")
    if roles[-1] != "assistant":
        raise DataError(path, line, f"{key}[{len(roles) - 1}].role", "the conversation ends with a 'user' turn: nothing to train on after it")
    for i, (role, content) in enumerate(zip(roles, contents)):
        if role != "system" and not content.strip():
            alone = roles.count(role) == 1
            raise DataError(path, line, f"messages.{role}" if alone else f"{key}[{i}].content", f"empty {role!r} content")
    system = contents[0] if roles[0] == "system" else None
    body = contents[1:] if system is not None else contents
    pairs = tuple(zip(body[0::2], body[1::2]))
    text, code = _view(record, "text", path, line), _view(record, "code", path, line)
    if len(pairs) > 1 and (text is not None or code is not None):
        raise DataError(path, line, "text" if text is not None else "code", "the text/code views apply to one user and one assistant turn, not a conversation")
    return ChatExample(
        user=pairs[-1][0],
        assistant=pairs[-1][1],
        system=system or None,
        source=f"{path}:{line}",
        text=text,
        code=code,
        history=pairs[:-1],
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
    for number, text in decoded_lines(path):
        try:
            if isinstance(text, DataError):
                raise text
            if text.strip():
                data.examples.append(parse_chat_line(text, path, number))
        except DataError as err:
            if not skip_invalid:
                raise
            data.skipped.append(err)
    if not data.examples:
        raise DataError(path, 0, "file", "no valid examples")
    return data


def decoded_lines(path: str | Path):
    """(1-based line number, its text) for each line of a file, read as bytes and decoded one
    line at a time, so a line that is not UTF-8 is a `DataError` (`file:line: encoding: ...`) in
    place of its text, which `skip_invalid` can leave out like any other bad line."""
    path = Path(path)
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                yield number, raw.decode("utf-8")
            except UnicodeDecodeError as err:
                yield number, DataError(path, number, "encoding", f"not UTF-8 (byte 0x{raw[err.start]:02x} at byte {err.start + 1} of the line)")


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
            data.examples.append(example_from_record(_without_nulls(row), name, number))
        except DataError as err:
            if not skip_invalid:
                raise
            data.skipped.append(err)
    if not data.examples:
        raise DataError(name, 0, "file", "no valid examples")
    return data


def _without_nulls(row: dict) -> dict:
    """A data set's row with its null fields left out, in the row and in each turn: a table gives
    every row every column, so a plain-text row beside conversations has `conversations: None`
    (and a turn without a key other turns have, that key as None), where a JSONL line has no such
    field. Read as absent, the rows are those of the same JSONL file."""
    def turn(value):
        return {k: v for k, v in value.items() if v is not None} if isinstance(value, Mapping) else value

    return {k: [turn(t) for t in v] if isinstance(v, list) else v for k, v in row.items() if v is not None}


def write_chat_jsonl(path: str | Path, examples: list[Example]) -> None:
    """Write examples in the messages format, plain text as `{"text": ...}` (the inverse of `read_chat_jsonl`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for example in examples:
            if isinstance(example, TextExample):
                handle.write(json.dumps({"text": example.text}, ensure_ascii=False) + "\n")
                continue
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
