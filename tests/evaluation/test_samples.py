"""The paper's data formats: each task loads the real sample lines, and a reference scores as a hit.

Reads <repo>/../shared/data (not part of the repository); skipped when absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from semantic_tube.evaluation.scoring import score_records
from semantic_tube.evaluation.tasks import choices_of, get_task

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
SAMPLES = {
    "gsm8k": SHARED / "samples" / "gsm8k.jsonl",
    "nq_open": SHARED / "samples" / "nq_open.jsonl",
    "hellaswag": SHARED / "samples" / "hellaswag.jsonl",
    "synth": SHARED / "nl-rx-synth" / "test.jsonl",
    "spider": SHARED / "samples" / "spider.jsonl",
}


@pytest.mark.parametrize("task", sorted(SAMPLES))
def test_samples_load_and_references_score_as_hits(task):
    path = SAMPLES[task]
    if not path.is_file():
        pytest.skip(f"{path} not available")
    examples = get_task(task).load(path, limit=100)
    assert len(examples) > 0 and all(example.system for example in examples)
    if task == "spider":
        return  # execution needs Spider's databases, which are not shipped
    records = [{"prompt": e.user, "reference": e.assistant, "prediction": e.assistant} for e in examples]
    metrics = score_records(task, records).metrics
    assert {name: metrics[name] for name in get_task(task).metrics} == dict.fromkeys(get_task(task).metrics, 1.0)
    if task == "hellaswag":
        assert all(choices_of(e.user) == ["A", "B", "C", "D"] for e in examples)
