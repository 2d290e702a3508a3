"""Rows in each public data set's schema (its Hugging Face copy; NL-RX's src.txt / targ.txt pairs),
for `stp data prepare`: made-up rows, and rows rebuilt from the paper's own lines (the shared
samples) by undoing the paper's layout, so mapping them back must give the paper's line."""

from __future__ import annotations

import json
import re
from pathlib import Path

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
SAMPLES = SHARED / "samples"  # the first 100 lines of the paper's test file of each task
NLRX_SYNTH = SHARED / "nl-rx-synth"  # the paper's synth_train.jsonl / synth_test.jsonl


def paper_lines(task: str) -> list[str] | None:
    """The paper's lines for a task (synth: its train file), or None where /work/shared is absent."""
    path = NLRX_SYNTH / "train.jsonl" if task == "synth" else SAMPLES / f"{task}.jsonl"
    return path.read_text(encoding="utf-8").splitlines() if path.is_file() else None


def row_from_paper(task: str, line: str) -> dict:
    """The public row a paper line was made from, with the schema's other columns filled in."""
    record = json.loads(line)
    user, assistant = record["messages"][1]["content"], record["messages"][2]["content"]
    if task == "gsm8k":
        return {"question": user, "answer": assistant}
    if task == "spider":
        db_id, question = re.fullmatch(r"For db_id:\[(.+?)\]\n\n(.*)", user, flags=re.S).groups()
        return _spider(db_id, question, assistant)
    if task == "nq_open":
        return {"question": user, "answer": assistant.split("; ")}
    if task == "hellaswag":
        context = record["text"][0]["content"]
        assert user.startswith(context + "\n")
        endings = [line[3:] for line in user[len(context) + 1 :].split("\n")]
        return _hellaswag(context, endings, "ABCD".index(assistant))
    if task in ("synth", "turk"):
        return {"src": user, "targ": assistant}
    raise ValueError(task)


def _spider(db_id: str, question: str, query: str) -> dict:
    return {
        "db_id": db_id,
        "query": query,
        "question": question,
        "query_toks": query.split(),
        "query_toks_no_value": query.lower().split(),
        "question_toks": question.split(),
    }


def _hellaswag(context: str, endings: list[str], label: int, ind: int = 0) -> dict:
    first, _, rest = context.rpartition(". ")
    return {
        "ind": ind,
        "activity_label": "Making tea",
        "ctx_a": first + "." if first else context,
        "ctx_b": rest if first else "",
        "ctx": context,
        "endings": endings,
        "source_id": f"activitynet~v_{ind}",
        "split": "val",
        "split_type": "indomain",
        "label": str(label),  # the Hub's copy stores it as a string; "" in the unlabelled test split
    }


def made_up_rows(task: str, n: int, start: int = 0) -> list[dict]:
    """n rows of the task's public schema, invented (no data set needed), numbered from start."""
    rows = []
    for i in range(start, start + n):
        if task == "gsm8k":
            rows.append({"question": f"Tom has {i} apples and buys 4 more. How many apples does he have?",
                         "answer": f"He has {i} + 4 = <<{i}+4={i + 4}>>{i + 4} apples.\n#### {i + 4}"})  # fmt: skip
        elif task == "spider":
            rows.append(_spider(f"library_{i % 3}", f"Which books came out after {1900 + i}?", f"SELECT name FROM book WHERE year  >  {1900 + i}"))
        elif task == "nq_open":
            rows.append({"question": f"who wrote made-up book number {i}", "answer": [f"Writer {i}", f"A. Writer {i}"]})
        elif task == "hellaswag":
            endings = [f"pours water number {i}.", "flies away.", "sings to the cup.", "eats the kettle."]
            rows.append(_hellaswag(f"A man fills kettle {i}. he", endings, i % 4, ind=i))
        elif task in ("synth", "turk"):
            rows.append({"src": f"lines with the string 'dog' at least {i} times", "targ": f"(dog){{{i},}}"})
    return rows
