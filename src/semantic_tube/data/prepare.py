"""The paper's data files, rebuilt from the public data sets: `stp data prepare`.

One pure function per task maps a row of the public data set (its Hugging Face schema) to a line
of the paper's messages format, with the paper's system prompt, the paper's layout of the user
and assistant turns, and the `text` / `code` views where the paper's files carry them (HellaSwag
only). `SOURCES` says where each task's rows come from and which splits the paper used:

| task | public source | train.jsonl | test.jsonl |
| --- | --- | --- | --- |
| gsm8k | `openai/gsm8k` (main) | train | test |
| spider | `xlang-ai/spider` | train + validation, shuffled, 82% | the other 18% (`--split original`: validation) |
| nq_open | `google-research-datasets/nq_open` | train | validation |
| hellaswag | `Rowan/hellaswag` | train | validation (the public test split has no labels) |
| synth, turk | NL-RX (`src.txt` / `targ.txt` of github.com/nicholaslocascio/deep-regex), not on the Hub | 80% | 20% |

The paper's Spider and NL-RX splits are `datasets`' `train_test_split(test_size=0.18 / 0.2, seed=42)`
of the pooled rows (train then validation for Spider; the release's line order for NL-RX), so
these files are the paper's, row for row and in its order. The paper's NQ-Open (8,000 / 1,769) and
HellaSwag (2,000 test) files are subsets of these splits whose selection its files do not record;
here the whole splits are written.

Lines are written as the paper's files are (`json.dumps` defaults: ASCII escapes), so a row maps
to the same bytes as the paper's line for it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from semantic_tube.data.system_prompts import SYSTEM_PROMPTS

LETTERS = "ABCD"
NQ_SEPARATOR = "; "  # the paper joins NQ-Open's alternative answers with it; its scorer splits on it
PAPER, ORIGINAL = "paper", "original"
SPLIT_MODES = (PAPER, ORIGINAL)
NLRX_FOLDERS = {"synth": "NL-RX-Synth", "turk": "NL-RX-Turk"}  # in the deep-regex release, under datasets/
DATA_FILE_BUILDERS = {".json": "json", ".jsonl": "json", ".parquet": "parquet", ".csv": "csv"}
EXTRA = "pip install 'semantic-tube[trl]'"  # the extra that brings `datasets`
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?")


class PrepareError(ValueError):
    """A source that cannot be prepared: missing, unreachable, or without the splits or columns a task needs."""


class FieldError(ValueError):
    """A field of one row that cannot be mapped; `RowError` adds where the row is."""

    def __init__(self, field: str, problem: str):
        self.field, self.problem = field, problem
        super().__init__(f"{field}: {problem}")


class RowError(PrepareError):
    """`<task> <split> split, row <i>: <field>: <problem>` (i counts from 0, as `dataset[i]`)."""

    def __init__(self, task: str, split: str, index: int, field: str, problem: str):
        self.task, self.split, self.index, self.field, self.problem = task, split, index, field, problem
        super().__init__(f"{task} {split} split, row {index}: {field}: {problem}")


# --- one mapping per task: a row of the public data set -> a line of the paper's file ---------------


def _text(row: Mapping, field: str) -> str:
    """A non-empty string field, surrounding whitespace removed (the paper's files have none)."""
    return _string(_field(row, field), field)


def _field(row: Mapping, field: str):
    if row.get(field) is None:
        raise FieldError(field, "missing")
    return row[field]


def _string(value, field: str) -> str:
    if not isinstance(value, str):
        raise FieldError(field, f"expected a string, got {type(value).__name__} {value!r}")
    if not value.strip():
        raise FieldError(field, "empty")
    return value.strip()


def chat_record(task: str, user: str, assistant: str, *, text: str | None = None, code: str | None = None) -> dict:
    """A line of the paper's files: the task's system prompt, the query and the answer, and the views if given."""
    record: dict = {
        "messages": [
            {"role": "system", "content": SYSTEM_PROMPTS[task]},
            {"role": "user", "content": user},
            {"role": "assistant", "content": assistant},
        ]
    }
    if text is not None:
        record["text"] = [{"role": "user", "content": text}]
    if code is not None:
        record["code"] = [{"role": "assistant", "content": code}]
    return record


def gsm8k_record(row: Mapping) -> dict:
    """`question` -> user; `answer` (the worked solution ending in `#### <number>`) -> assistant, verbatim."""
    answer = _text(row, "answer")
    if "####" not in answer:
        raise FieldError("answer", "no '#### <number>' line, which the GSM8K scorer reads")
    return chat_record("gsm8k", _text(row, "question"), answer)


def spider_record(row: Mapping) -> dict:
    """User `For db_id:[<db_id>]\\n\\n<question>`; assistant the gold `query`, as written (spacing and any `;` kept)."""
    db_id = _text(row, "db_id")
    if "]" in db_id:
        raise FieldError("db_id", f"{db_id!r} contains ']', which ends the database name in the prompt")
    return chat_record("spider", f"For db_id:[{db_id}]\n\n{_text(row, 'question')}", _text(row, "query"))


def nq_open_record(row: Mapping) -> dict:
    """`question` -> user; the alternative answers (`answer`, a list) joined with '; ' -> assistant."""
    answers = _field(row, "answer")
    if isinstance(answers, str):
        answers = [answers]
    if not isinstance(answers, (list, tuple)) or not answers:
        raise FieldError("answer", f"expected a non-empty list of strings, got {answers!r}")
    answers = [_string(answer, f"answer[{i}]") for i, answer in enumerate(answers)]
    return chat_record("nq_open", _text(row, "question"), NQ_SEPARATOR.join(answers))


def _label(row: Mapping, n: int) -> int:
    """HellaSwag's `label`: an index into the endings, an int or a digit string (the Hub's copy)."""
    label = _field(row, "label")
    if isinstance(label, str) and label.strip().isdigit():
        label = int(label)
    if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label < n:
        raise FieldError("label", f"expected an ending index 0-{n - 1}, got {label!r} (the public test split has no labels)")
    return label


def hellaswag_record(row: Mapping) -> dict:
    """User: `ctx`, then one line per ending, `A) ...` to `D) ...`; assistant: the letter of `label`.
    Views: `text` = the context, `code` = the correct ending (as the paper's file)."""
    context = _text(row, "ctx")
    endings = _field(row, "endings")
    if not isinstance(endings, (list, tuple)) or len(endings) != len(LETTERS):
        raise FieldError("endings", f"expected {len(LETTERS)} endings, got {endings!r}")
    endings = [_string(ending, f"endings[{i}]") for i, ending in enumerate(endings)]
    label = _label(row, len(endings))
    options = "\n".join(f"{letter}) {ending}" for letter, ending in zip(LETTERS, endings))
    return chat_record("hellaswag", f"{context}\n{options}", LETTERS[label], text=context, code=endings[label])


def nlrx_record(task: str) -> Callable[[Mapping], dict]:
    """NL-RX (synth or turk): `src` (the description) -> user; `targ` (the regex) -> assistant, verbatim."""

    def record(row: Mapping) -> dict:
        return chat_record(task, _text(row, "src"), _text(row, "targ"))

    return record


# --- where each task's rows come from, and the paper's splits ---------------------------------------


@dataclass(frozen=True)
class Resplit:
    """The pooled rows of `pool` (in that order; None = the source's only split) shuffled and cut
    as `datasets.Dataset.train_test_split(test_size=test_size, seed=seed)` does."""

    pool: tuple[str, ...] | None
    test_size: float
    seed: int = 42


@dataclass(frozen=True)
class Source:
    hub_id: str | None  # None: not on the Hub; --source is required
    columns: tuple[str, ...]
    mapping: Callable[[Mapping], dict]
    original: tuple[str, str]  # the data set's own (train, test) splits
    paper: Resplit | None = None  # None: the paper used `original`
    subset: str | None = None  # the Hub configuration

    def plan(self, mode: str) -> tuple[str, str] | Resplit:
        return self.paper if mode == PAPER and self.paper else self.original


SOURCES: dict[str, Source] = {
    "gsm8k": Source("openai/gsm8k", ("question", "answer"), gsm8k_record, ("train", "test"), subset="main"),
    "spider": Source(
        "xlang-ai/spider", ("db_id", "question", "query"), spider_record, ("train", "validation"),
        paper=Resplit(("train", "validation"), test_size=0.18),
    ),  # fmt: skip
    "nq_open": Source("google-research-datasets/nq_open", ("question", "answer"), nq_open_record, ("train", "validation")),
    "hellaswag": Source("Rowan/hellaswag", ("ctx", "endings", "label"), hellaswag_record, ("train", "validation")),
    "synth": Source(None, ("src", "targ"), nlrx_record("synth"), ("train", "test"), paper=Resplit(None, test_size=0.2)),
    "turk": Source(None, ("src", "targ"), nlrx_record("turk"), ("train", "test"), paper=Resplit(None, test_size=0.2)),
}


def split_indices(n: int, test_size: float, seed: int) -> tuple[list[int], list[int]]:
    """(train, test) row indices of `datasets`' `train_test_split(test_size=test_size, seed=seed)`
    on n rows: ceil(test_size * n) test rows first in one `np.random.default_rng(seed)` permutation."""
    import numpy as np

    n_test = math.ceil(test_size * n)
    order = np.random.default_rng(seed).permutation(n).tolist()
    return order[n_test:], order[:n_test]


# --- reading a source ---------------------------------------------------------------------------------


Rows = Sequence[Mapping]  # a datasets.Dataset, or a list of dicts


def _datasets():
    try:
        import datasets
    except ImportError:
        raise PrepareError(f"stp data prepare needs the `datasets` package: {EXTRA}") from None
    return datasets


def _is_saved_dataset(folder: Path) -> bool:
    return (folder / "dataset_dict.json").is_file() or (folder / "state.json").is_file()


def _read_lines(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # a final newline ends the last line; it does not start another
    return [line.rstrip("\r") for line in lines]


def _nlrx_folder(folder: Path, task: str) -> Path | None:
    """The folder holding src.txt and targ.txt: `folder` itself, or the task's folder of a deep-regex checkout."""
    for candidate in (folder, folder / "datasets" / NLRX_FOLDERS.get(task, ""), folder / NLRX_FOLDERS.get(task, "")):
        if (candidate / "src.txt").is_file() and (candidate / "targ.txt").is_file():
            return candidate
    return None


def _read_nlrx(folder: Path) -> dict[str, Rows]:
    """The NL-RX release's parallel files as one split of {src, targ} rows, in line order."""
    src, targ = _read_lines(folder / "src.txt"), _read_lines(folder / "targ.txt")
    if len(src) != len(targ):
        raise PrepareError(f"{folder}: src.txt has {len(src)} lines but targ.txt has {len(targ)}; they must pair line by line")
    return {"all": [{"src": s, "targ": t} for s, t in zip(src, targ)]}


def _as_splits(loaded, name: str = "all") -> dict[str, Rows]:
    """A DatasetDict as {split: Dataset}; a single Dataset as one split (named by its own split, if any)."""
    if hasattr(loaded, "keys"):
        return {str(split): loaded[split] for split in loaded.keys()}
    return {str(loaded.split) if loaded.split is not None else name: loaded}


def _load_local(path: Path, task: str, subset: str | None) -> dict[str, Rows]:
    if path.is_dir():
        if (nlrx := _nlrx_folder(path, task)) is not None:
            return _read_nlrx(nlrx)
        datasets = _datasets()
        if _is_saved_dataset(path):
            return _as_splits(datasets.load_from_disk(str(path)))
        try:
            return _as_splits(datasets.load_dataset(str(path), name=subset))
        except (ValueError, FileNotFoundError) as err:  # no data files, or several configurations and no --subset
            raise PrepareError(
                f"{path}: not a folder datasets.load_dataset can read ({err}); give a save_to_disk folder, a folder "
                "of JSON/JSONL/Parquet/CSV files named by split (train.jsonl, test.jsonl, ...), or --subset for a "
                "folder with several configurations"
            ) from None
    builder = DATA_FILE_BUILDERS.get(path.suffix.lower())
    if builder is None:
        raise PrepareError(f"{path}: unknown kind of data file; expected one of {', '.join(DATA_FILE_BUILDERS)}")
    return {"all": _datasets().load_dataset(builder, data_files=str(path), split="train")}


def _load_hub(hub_id: str, subset: str | None) -> dict[str, Rows]:
    datasets = _datasets()
    advice = "pass --source with a local copy: a save_to_disk folder, or JSON/JSONL/Parquet files datasets.load_dataset reads"
    try:
        return _as_splits(datasets.load_dataset(hub_id, subset))
    except ConnectionError as err:  # offline, or the Hub unreachable (datasets raises it at once when HF_HUB_OFFLINE=1)
        raise PrepareError(f"cannot reach the Hugging Face Hub for {hub_id!r} ({err}); {advice}") from None
    except (OSError, ValueError, RuntimeError) as err:  # not found, gated, a script-based repository, a bad subset
        raise PrepareError(f"could not load {hub_id!r} from the Hugging Face Hub ({err}); {advice}") from None


def load_source(task: str, source: str | None = None, subset: str | None = None) -> dict[str, Rows]:
    """Every split of a task's source: {split name: rows}.

    `source` is a local path (a `save_to_disk` folder, a folder `datasets.load_dataset` reads, a
    single JSON/JSONL/Parquet/CSV file, or for NL-RX a folder with `src.txt` and `targ.txt`, or the
    root of a deep-regex checkout) or a Hub id; None = the task's Hub id (`SOURCES`). `subset` is the
    Hub configuration (default: the task's, e.g. `main` for GSM8K).
    """
    spec = _source(task)
    if source is None:
        if spec.hub_id is None:
            raise PrepareError(
                f"{task}: NL-RX is not on the Hugging Face Hub; pass --source with the NL-RX release: the folder "
                f"datasets/{NLRX_FOLDERS[task]} (src.txt, targ.txt) of github.com/nicholaslocascio/deep-regex, or that "
                "repository's root, or a datasets folder or file with columns src and targ"
            )
        source = spec.hub_id
    path = Path(source).expanduser()
    if path.exists():
        return _load_local(path, task, subset)
    if not _HUB_ID.fullmatch(source):
        raise PrepareError(f"--source {source}: no such file or folder, and not a Hub id")
    return _load_hub(source, subset or (spec.subset if source == spec.hub_id else None))


def _source(task: str) -> Source:
    if task not in SOURCES:
        raise PrepareError(f"unknown task {task!r}; known tasks: {', '.join(SOURCES)}")
    return SOURCES[task]


# --- mapping and writing -------------------------------------------------------------------------------


def _check_columns(task: str, split: str, rows: Rows, columns: Iterable[str]) -> None:
    names = getattr(rows, "column_names", None)  # a Dataset; lists of dicts are checked row by row
    if names is None:
        return
    missing = [column for column in columns if column not in names]
    if missing:
        raise PrepareError(f"{task} {split} split: no column {', '.join(map(repr, missing))} (it has: {', '.join(names)})")


def map_split(task: str, split: str, rows: Rows) -> list[dict]:
    """Every row of one split as a line of the paper's file; `RowError` at the first bad row."""
    spec = _source(task)
    _check_columns(task, split, rows, spec.columns)
    if hasattr(rows, "select_columns"):
        rows = rows.select_columns(list(spec.columns))
    records = []
    for index, row in enumerate(rows):
        try:
            records.append(spec.mapping(row))
        except FieldError as err:
            raise RowError(task, split, index, err.field, err.problem) from None
    return records


def _pick(task: str, splits: Mapping[str, Rows], name: str, mode: str) -> Rows:
    if name not in splits and len(splits) == 1 and task in NLRX_FOLDERS:
        raise PrepareError(
            f"{task}: the NL-RX release is one list of pairs with no train/test split of its own; use --split paper "
            "(the paper's 80/20 split of it), or a source with train and test splits"
        )
    if name not in splits:
        raise PrepareError(
            f"{task}: the source has no {name!r} split (it has: {', '.join(splits) or 'none'}); "
            f"--split {mode} takes {_describe(task, mode)}"
        )
    return splits[name]


def _describe(task: str, mode: str) -> str:
    plan = _source(task).plan(mode)
    if isinstance(plan, Resplit):
        pool = " + ".join(plan.pool) if plan.pool else "the source's only split"
        return f"train/test = {pool}, shuffled and cut as train_test_split(test_size={plan.test_size}, seed={plan.seed})"
    return f"train <- {plan[0]}, test <- {plan[1]}"


def prepare(task: str, splits: Mapping[str, Rows], mode: str = PAPER) -> tuple[list[dict], list[dict]]:
    """(train, test) lines of the paper's files from a source's splits (`load_source`)."""
    if mode not in SPLIT_MODES:
        raise PrepareError(f"unknown split mode {mode!r}; expected one of {', '.join(SPLIT_MODES)}")
    plan = _source(task).plan(mode)
    if isinstance(plan, Resplit):
        if plan.pool is None:
            if len(splits) != 1:
                raise PrepareError(
                    f"{task}: the paper's split is drawn from the whole data set as one split, but the source has "
                    f"{len(splits)} ({', '.join(splits)}); give the release's src.txt/targ.txt, or --split original "
                    "to keep the source's train and test"
                )
            pool = [(name, rows) for name, rows in splits.items()]
        else:
            pool = [(name, _pick(task, splits, name, mode)) for name in plan.pool]
        records = [record for name, rows in pool for record in map_split(task, name, rows)]
        train, test = split_indices(len(records), plan.test_size, plan.seed)
        return [records[i] for i in train], [records[i] for i in test]
    train_name, test_name = plan
    return (
        map_split(task, train_name, _pick(task, splits, train_name, mode)),
        map_split(task, test_name, _pick(task, splits, test_name, mode)),
    )


def record_line(record: dict) -> str:
    """A line as the paper's files write it (json.dumps defaults: ASCII escapes, ', ' and ': ')."""
    return json.dumps(record)


def write_records(path: str | Path, records: Iterable[dict]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(record_line(record) + "\n")
    return path


def split_summary(task: str, mode: str = PAPER) -> str:
    """Where train.jsonl and test.jsonl come from, in words (for the command's output and help)."""
    return _describe(task, mode)
