"""What the report reads from metrics.json and the log history, by the run-folder contract's key rules.

Task metrics are `task_<task>/<metric>` (a rate has `_hits` and a 95% interval beside it); a
training series `<series>` in trainer_state.json's log history keeps its last value in
metrics.json as `final_<series>`. Every method's auxiliary loss is logged under `aux_loss` and
under its own name (`stp_loss`, `mask_loss`, `curvature_loss`, `jepa_loss`); runs older than
`aux_loss` have the own name only, so the report reads `aux_loss` where it is there, else the
own name. Runs with `stp_log_forms` add `stp_<form>_loss` for each STP form they log.
"""

from __future__ import annotations

import re

from semantic_tube.experiments import stats
from semantic_tube.experiments.report.design import NTP_FAMILY, ReportError, finished
from semantic_tube.experiments.runs import Run
from semantic_tube.run_folder import (
    AUX_SERIES,
    CI_HIGH_SUFFIX,
    CI_LOW_SUFFIX,
    FINAL_PREFIX,
    HITS_SUFFIX,
    METHOD_SERIES,
    TASK_PREFIX,
    final_key,
    main_metric,
    stp_form_series,
    task_key,
)

_DERIVED = (HITS_SUFFIX, CI_LOW_SUFFIX, CI_HIGH_SUFFIX)  # shown through their rate, not as metrics of their own
STP_SERIES = METHOD_SERIES["stp"]
_FORM_SERIES = re.compile(r"^stp_([a-z]+)_loss$")

# ---------------------------------------------------------------------------------------------
# Task metrics


def tasks_of(runs: list[Run]) -> list[str]:
    """Tasks scored in any finished run: those with a `task_<task>/count`."""
    return sorted(
        {
            key[len(TASK_PREFIX) : -len("/count")]
            for run in runs
            for key in run.metrics
            if key.startswith(TASK_PREFIX) and key.endswith("/count") and key.count("/") == 1
        }
    )


def count_key(task: str, metric: str) -> str:
    """The test-set size behind a rate: `count` of the whole set, or of the rate's subset."""
    subset = metric.rpartition("/")[0]
    return task_key(task, f"{subset}/count" if subset else "count")


def rates_of(runs: list[Run], task: str) -> list[str]:
    """The task's rates (metrics with hits and an interval): whole-set ones first, then subsets."""
    prefix = task_key(task, "")
    names = {
        key[len(prefix) : -len(HITS_SUFFIX)] for run in runs for key in run.metrics if key.startswith(prefix) and key.endswith(HITS_SUFFIX)
    }
    return sorted(names, key=lambda name: ("/" in name, name != default_metric(task), name))


def other_metrics_of(runs: list[Run], task: str) -> list[str]:
    """The task's counts and other numbers that are not rates (`count`, `unparsable`, `suffix[.*]/predicted` ...)."""
    prefix = task_key(task, "")
    rates = set(rates_of(runs, task))
    names = {key[len(prefix) :] for run in runs for key in run.metrics if key.startswith(prefix)}
    return sorted(name for name in names if name not in rates and not name.endswith(_DERIVED))


def headline_metric(runs: list[Run], task: str, requested: str | None) -> str:
    """The metric tests and figures use: --metric (with or without `task_<task>/`), else the
    task's own primary metric (`exact` for NL-RX, the paper's), else its first rate."""
    rates = rates_of(runs, task)
    if requested:
        name = requested.removeprefix(task_key(task, ""))
        if name not in rates:
            raise ReportError(f"--metric {requested}: not a rate of task {task}; its rates: {', '.join(rates)}")
        return name
    default = default_metric(task)
    return default if default in rates else rates[0]


def default_metric(task: str) -> str | None:
    """The task's own first metric (the paper's for NL-RX and HellaSwag; robust elsewhere, its
    `paper_` twin beside it), as `stp train` and `stp sweep` print it."""
    return main_metric(task)


def suffix_classes(runs: list[Run], task: str) -> list[str]:
    """Answer-suffix classes of Table 1 with examples in some run (`.*`, `.*.*`, `other`)."""
    prefix = task_key(task, "suffix[")
    found = {}
    for run in runs:
        for key, count in run.metrics.items():
            if key.startswith(prefix) and key.endswith("]/count") and count:
                found[key[len(prefix) : -len("]/count")]] = True
    return sorted(found, key=lambda name: (name == "other", len(name)))


def value(run: Run, key: str) -> float | None:
    found = run.metrics.get(key)
    return None if found is None else float(found)


def summary(runs: list[Run], key: str) -> stats.Summary:
    return stats.summarize(value(run, key) for run in finished(runs))


# ---------------------------------------------------------------------------------------------
# Loss series


def own_series(run: Run) -> str | None:
    """The name under which the run's method logs its own loss (`stp_loss` for ntp, logged
    without gradient; two-view's is `stp_loss` too); None when no file records the family."""
    family = run.family
    if family is None:
        return None
    return STP_SERIES if family == NTP_FAMILY else METHOD_SERIES.get(family, STP_SERIES)


def aux_log_key(run: Run) -> str | None:
    """The key of the method's auxiliary loss in the run's log history: `aux_loss` where the
    trainer logged it, else the method's own name (older runs)."""
    if any(AUX_SERIES in entry for entry in run.log_history):
        return AUX_SERIES
    return own_series(run)


def final_aux(run: Run) -> float | None:
    """The last logged value of the method's auxiliary loss: `final_aux_loss`, else `final_<own name>`."""
    found = value(run, final_key(AUX_SERIES))
    if found is None and own_series(run) is not None:
        found = value(run, final_key(own_series(run)))
    return found


def logged_forms(runs: list[Run]) -> list[str]:
    """STP forms logged as `stp_<form>_loss` by any of the runs (metrics.json or log history), sorted."""
    forms = set()
    for run in runs:
        names = [key.removeprefix(FINAL_PREFIX) for key in run.metrics if key.startswith(FINAL_PREFIX)]
        names += [key for entry in run.log_history for key in entry]
        forms |= {match.group(1) for match in map(_FORM_SERIES.match, names) if match}
    return sorted(forms)


def form_series(form: str) -> str:
    return stp_form_series(form)
