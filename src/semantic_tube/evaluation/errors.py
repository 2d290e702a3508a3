"""The one exception type evaluation raises for a user's mistake (bad task, missing database ...).

The CLI turns it into a one-line message and exit code 2; anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations


class EvalError(ValueError):
    """Evaluation cannot run as asked; the message names the thing to fix."""
