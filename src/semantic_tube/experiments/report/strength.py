"""Treatment strength: how far each configuration moved the quantity it trains, against plain fine-tuning.

A comparison tests STP only where STP changed the model. At lambda 0.02 for 100 steps of 8
examples the trained STP value ended 0.02 below plain fine-tuning's (1.31 against 1.34): no
accuracy difference could be expected, and a null result says nothing about the method.

For each configuration that trains STP, its final STP value is paired by seed with the STP that
a plain fine-tuning run (the `ntp` family, logging STP without gradient) logged, in the same
setting: the difference and the ratio per seed, with their spread over seeds. The rule
(`WEAK_REDUCTION`): a treatment is **weak** when the trained STP ends less than 10% below the
reference's, 1 - mean(trained / reference) < 0.10.

The two values must be the same quantity: the same STP form (a run logs its trained form as
`stp_loss` and the forms of `stp_log_forms` as `stp_<form>_loss`), the same gap bypass (`stp_gap`),
trajectory and layer, and no predictor (`stp+pred`'s loss runs through its trained matrix; the
plain run has none). Where they differ, or the reference logged no STP, the strength is not
measured and the report says why. The reference is the plain configuration of the setting that
saw as many training examples (optimizer steps x batch x accumulation), else the report's baseline.

Where both sides measured the quantity after training on the same examples with the same draws
(`treatment/trained_<series>` in metrics.json, `treatment_batches`), that value is used; else the
last logged training value (`final_<series>`, the mean of the last logging window).
"""

from __future__ import annotations

from dataclasses import dataclass

from semantic_tube.experiments import stats
from semantic_tube.experiments.report.comparisons import pair_values, seed_values
from semantic_tube.experiments.report.design import NTP_FAMILY, Design, Setting, family_of_runs, finished
from semantic_tube.experiments.report.keys import STP_SERIES, logged_forms
from semantic_tube.experiments.runs import Run
from semantic_tube.run_folder import FINAL_PREFIX, METHOD_SERIES, TREATMENT_TRAINED, final_key, stp_form_series, treatment_key

WEAK_REDUCTION = 0.10  # weak: the trained STP ends less than this fraction below the reference's
AFTER_TRAINING = treatment_key(TREATMENT_TRAINED, "")  # Strength.source when the measurement after training was compared
STP_FAMILIES = ("stp",)  # families whose trained loss is STP itself (two-view's is another quantity)
# Defaults of the fields that define an STP value, for configs older than a field.
_DEFAULTS = {"stp_form": "tube", "trajectory": "content", "predictor": "identity", "stp_layer": -1}


@dataclass(frozen=True)
class Quantity:
    """What an STP value measures (training.config's fields that change the number, not its noise):
    `gap_origin` None where displacements run straight across the template gap."""

    form: str
    gap_origin: str | None
    trajectory: str
    predictor: str
    layer: int

    def differences(self, other: Quantity) -> list[str]:
        names = ("form", "gap_origin", "trajectory", "predictor", "layer")
        return [
            f"{name} {getattr(self, name)} against {getattr(other, name)}" for name in names if getattr(self, name) != getattr(other, name)
        ]


def _field(run: Run, name: str):
    found = run.config.get(name)
    return _DEFAULTS[name] if found is None else found


def gap_origin(run: Run, form: str) -> str | None:
    """Where a displacement of `form` restarts after the template gap in this run, as
    `training.config.gap_origin_of` resolves it: None with stp_gap none; span's own before_answer;
    else stp_gap's origin, else answer_start. Configs older than stp_gap record stp_skip_gap (false:
    none) and stp_gap_origin instead."""
    config = run.config
    if "stp_gap" in config:
        setting = config["stp_gap"]
        if setting == "none":
            return None
    else:
        if config.get("stp_skip_gap", True) is False:
            return None
        setting = config.get("stp_gap_origin")
    if form == "span":
        return "before_answer"
    return setting or "answer_start"


def quantity(run: Run, form: str) -> Quantity:
    """The STP `form` as the run computes it, trained (`stp_loss`) or logged beside (`stp_<form>_loss`)."""
    return Quantity(
        form, gap_origin(run, form), str(_field(run, "trajectory")), str(_field(run, "predictor")), int(_field(run, "stp_layer"))
    )


def series_for(runs: list[Run], form: str) -> str | None:
    """The series holding STP in `form` for these runs: `stp_<form>_loss` where they log it, else
    `stp_loss` where `form` is their trained (or, for ntp, logged) form and they logged it."""
    if form in logged_forms(runs):
        return stp_form_series(form)
    if all(_field(run, "stp_form") == form for run in runs) and any(final_key(STP_SERIES) in run.metrics for run in runs):
        return STP_SERIES
    return None


def examples_seen(runs: list[Run]) -> int | None:
    """Optimizer steps x per-device batch x accumulation, when every finished run agrees."""
    found = {
        run.global_step * int(run.config.get("per_device_train_batch_size", 8)) * int(run.config.get("gradient_accumulation_steps", 1))
        for run in runs
        if run.global_step is not None
    }
    return found.pop() if len(found) == 1 else None


@dataclass(frozen=True)
class Strength:
    """One configuration's treatment strength against its plain reference (module docstring).

    `pairs`: (seed, trained, reference); `difference` and `ratio`: trained - reference and trained
    / reference over the pairs; `weak`: the rule's verdict, None where not measured (`reason`)."""

    arm: str
    setting: Setting
    label: str
    reference: str | None
    series: str | None
    reference_series: str | None
    source: str | None  # "treatment/trained_" or "final_": which value was compared
    pairs: tuple
    left_out: tuple
    difference: stats.Summary
    ratio: stats.Summary
    weak: bool | None
    reason: str | None
    same_length: bool | None  # the reference saw as many training examples

    @property
    def reduction(self) -> float | None:
        """1 - mean(trained / reference): how far below the reference the trained STP ended."""
        return None if self.ratio.mean is None else 1 - self.ratio.mean


def reference_of(arm: str, setting: Setting, cells: dict, design: Design) -> tuple[str | None, bool | None]:
    """The plain (ntp-family) configuration of `setting` that saw as many training examples as
    `arm`'s runs, else the baseline, else the first plain one; and whether the lengths match."""
    plain = [candidate for (candidate, where), runs in cells.items() if where == setting and family_of_runs(finished(runs)) == NTP_FAMILY]
    if not plain:
        return None, None
    seen = examples_seen(finished(cells[(arm, setting)]))
    matching = [candidate for candidate in plain if seen is not None and examples_seen(finished(cells[(candidate, setting)])) == seen]
    if len(matching) == 1:
        return matching[0], True
    chosen = design.baseline if design.baseline in plain else plain[0]
    same = seen is not None and examples_seen(finished(cells[(chosen, setting)])) == seen
    return chosen, same


def strength_of(arm: str, setting: Setting, cells: dict, design: Design) -> Strength:
    runs = finished(cells[(arm, setting)])
    label = design.label(arm, setting)
    empty = stats.Summary(None, None, 0)

    def unmeasured(reason: str, reference: str | None = None, same: bool | None = None) -> Strength:
        return Strength(arm, setting, label, reference, None, None, None, (), (), empty, empty, None, reason, same)

    family = family_of_runs(runs)
    if family == "two-view":
        return unmeasured("two-view trains the STP formula at s = 0 and r at the query's end, a quantity plain fine-tuning does not log")
    if family not in STP_FAMILIES:
        own = METHOD_SERIES.get(family, "its own loss")
        return unmeasured(f"`{family}` trains its own loss (`{own}`), which plain fine-tuning does not log")
    reference, same = reference_of(arm, setting, cells, design)
    if reference is None:
        return unmeasured("no plain fine-tuning (ntp) run in this setting")
    forms = {_field(run, "stp_form") for run in runs}
    if len(forms) != 1:
        return unmeasured(f"its runs train different STP forms ({', '.join(sorted(map(str, forms)))})", reference, same)
    (form,) = forms
    base = finished(cells[(reference, setting)])
    series, reference_series = series_for(runs, form), series_for(base, form)
    if reference_series is None:
        logged = sorted({str(_field(run, "stp_form")) for run in base if final_key(STP_SERIES) in run.metrics} | set(logged_forms(base)))
        what = f"STP in form {', '.join(logged)} only" if logged else "no STP (stp_log_when_off or stp_log_forms)"
        return unmeasured(f"it trains STP in form {form}; `{reference}` logged {what}", reference, same)
    mismatch = sorted({text for run in runs for other in base for text in quantity(run, form).differences(quantity(other, form))})
    if mismatch:
        return unmeasured(f"its STP is another quantity than `{reference}`'s logged one ({'; '.join(mismatch)})", reference, same)
    treated = treatment_key(TREATMENT_TRAINED, series), treatment_key(TREATMENT_TRAINED, reference_series)
    if all(treated[0] in run.metrics for run in runs) and all(treated[1] in run.metrics for run in base):
        source, keys = AFTER_TRAINING, treated
    else:
        source, keys = FINAL_PREFIX, (final_key(series), final_key(reference_series))
    pairs, left_out = pair_values(seed_values(runs, keys[0]), seed_values(base, keys[1]), (arm, reference))
    if not pairs:
        return Strength(
            arm,
            setting,
            label,
            reference,
            series,
            reference_series,
            source,
            (),
            tuple(left_out),
            empty,
            empty,
            None,
            "no seed pairs up",
            same,
        )
    difference = stats.summarize(trained - plain for _, trained, plain in pairs)
    ratio = stats.summarize(trained / plain for _, trained, plain in pairs if plain)
    weak = None if ratio.mean is None else bool(1 - ratio.mean < WEAK_REDUCTION)
    return Strength(
        arm, setting, label, reference, series, reference_series, source, tuple(pairs), tuple(left_out), difference, ratio, weak, None, same
    )


def strengths_of(design: Design, cells: dict) -> list[Strength]:
    """Every configuration with finished runs that is not plain fine-tuning, in display order."""
    found = []
    for (arm, setting), runs in cells.items():
        done = finished(runs)
        if done and family_of_runs(done) != NTP_FAMILY:
            found.append(strength_of(arm, setting, cells, design))
    return found
