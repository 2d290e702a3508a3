"""The system prompt each of the paper's data files carries, by task.

The data layer writes them (`data.prepare`) and the evaluation layer documents them
(`evaluation.tasks.Task.system_prompt`); they live here, below both, so data never imports
evaluation. A prompt is part of the data, never added to a line that lacks one.
"""

from __future__ import annotations

_NLRX = "Convert natural language to regular expression."

SYSTEM_PROMPTS: dict[str, str] = {
    "synth": _NLRX,
    "turk": _NLRX,
    "gsm8k": "Answer the math question, show steps.",
    "spider": "Convert natural language to SQL.",
    "nq_open": "Answer the question below.",
    "hellaswag": "Which one of A), B), C), or D) is the best ending for the context? Answer A, B, C, or D.",
}
