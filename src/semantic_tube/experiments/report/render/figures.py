"""The Training section (each configuration's final losses), then the figures with the tests made
on their data: Figure 1b's data efficiency, 4a's plateau test, 4b's and 7's fits against lambda,
6's SVD spectra."""

from __future__ import annotations

from semantic_tube.experiments.report import figure_data as fd
from semantic_tube.experiments.report import landscape as ls
from semantic_tube.experiments.report.compute import TRAINING_KEYS, ReportData
from semantic_tube.experiments.report.design import FRACTION, NTP_FAMILY, show
from semantic_tube.experiments.report.render.common import docs
from semantic_tube.experiments.report.text import fmt, format_p, mean_std, quoted, signed, table
from semantic_tube.run_folder import NTP_SERIES, final_key, stp_form_series


def training(data: ReportData) -> list[str]:
    done = data.done
    keys = [key for key in TRAINING_KEYS if any(key in run.metrics for run in done)]
    keys = [key for key in keys if key != final_key(fd.STP_SERIES)]  # shown as the method's own loss
    with_aux = any(config.aux.n for config in data.configurations)
    if not keys and not with_aux:
        return []
    forms = [
        final_key(stp_form_series(form)) for form in fd.logged_forms(done) if final_key(stp_form_series(form)) in {key for run in done for key in run.metrics}
    ]
    head = [final_key(NTP_SERIES)] if final_key(NTP_SERIES) in keys else []
    rest = [key for key in keys if key not in head]
    rows = [["configuration", "n", *head, *(["final aux loss", "its series"] if with_aux else []), *forms, *rest]]
    for config in data.configurations:
        if not config.n:
            continue
        aux = [mean_std(config.aux, 4, n_of_row=config.n), _aux_name(config)] if with_aux else []
        rows.append(
            [
                config.label,
                str(config.n),
                *(mean_std(config.summary(key), 4, n_of_row=config.n) for key in head),
                *aux,
                *(mean_std(config.summary(key), 4, n_of_row=config.n) for key in forms),
                *(mean_std(config.summary(key), 1 if key in ("train_examples", "train_runtime") else 4, n_of_row=config.n) for key in rest),
            ]
        )
    note = (
        "final_*: the last logged training value; final aux loss: each method's own loss (`aux_loss`, else its own name: "
        "for ntp the STP logged without gradient); final_stp_<form>_loss: the STP forms logged beside the trained one; "
        "eval_*: the held-out loss at the end; train_runtime in seconds."
    )
    return ["## Training", "", note, "", *table(rows), ""]


def _aux_name(config) -> str:
    if not config.aux.n or config.aux_series is None:
        return "not logged"
    return f"`{config.aux_series}`" + (" (no gradient)" if config.family == NTP_FAMILY else "")


# ---------------------------------------------------------------------------------------------
# Figures


def figure_link(figure, caption: str) -> list[str]:
    return [f"![{caption}]({figure.file})", ""]


def figure_1b(data: ReportData) -> list[str]:
    if data.figure_1b is None:
        return []
    rows = [["method", "full-data reference", "matches it down to fraction", "means by fraction (n)"]]
    for task, line in data.efficiency:
        reach = (
            "n/a (no full-data baseline)"
            if line.reference is None
            else (show(FRACTION, line.matches_down_to) if line.matches_down_to else "never")
        )
        means = ", ".join(f"{show(FRACTION, f)}: {fmt(p.mean)} (n={p.n})" for f, p in sorted(line.points.items(), reverse=True) if p.n)
        ref = f"{fmt(line.reference.mean)} ± {fmt(line.reference.std)} (n={line.reference.n})" if line.reference else "n/a"
        rows.append([f"{task}: " + fd.line_label(f"`{line.arm}`", line.rest, data.design, data.several_rests), ref, reach, means])
    return [
        "## Data efficiency (Figure 1b)",
        "",
        *figure_link(data.figure_1b, "Figure 1b: accuracy against data fraction"),
        f"*Matches*: the mean at that fraction, and at every larger one, is at least the mean of `{data.design.baseline}` on the "
        f"full data (the dashed line, ± std band); means only, the paired tests say which differences are significant "
        f"({docs(data, 'efficiency', 'Figure 1b')}).",
        "",
        *table(rows),
        "",
    ]


def figure_4a(data: ReportData) -> list[str]:
    if data.figure_4a is None:
        return []
    largest = data.largest_fraction
    where = f" at train_fraction={show(FRACTION, largest)}" if largest is not None and FRACTION in data.design.varying else ""
    unlogged, forms = data.figure_4a_notes["unlogged"], data.figure_4a_notes["trained_forms"]
    note = f" STP was not logged for {quoted(unlogged)} (lambda 0 without `stp_log_when_off`)." if unlogged else ""
    if unlogged_aux := data.figure_4a_notes["unlogged_aux"]:
        note += f" No auxiliary loss was logged for {quoted(unlogged_aux)}."
    if data.figure_4a.x_axis == fd.EXAMPLES_AXIS:
        note += (
            " The configurations differ in examples per optimizer step (per-device batch x accumulation), so every curve is "
            "drawn against the training examples it has seen, not against its steps."
        )
    panels = [title for _, title in data.figure_4a.panels]
    if len(panels) > 2:
        note += f" One panel per logged loss ({'; '.join(panels)}): each method's own loss on its own panel."
    if len(forms) > 1:
        note += (
            f" The STP panel draws each run's logged `stp_loss`, the form its method trains ({quoted(forms)}): lines of "
            f"different configurations are different quantities ({docs(data, 'curves', 'which')})."
        )
    return [
        "## Loss curves (Figure 4a)",
        "",
        *figure_link(data.figure_4a, "Figure 4a: NTP and STP loss curves"),
        f"Training losses{where}, mean over the seeds of each configuration at the steps all of them logged.{note}",
        "",
        *plateau_table(data),
    ]


def plateau_table(data: ReportData) -> list[str]:
    """Figure 4a's plateau test (`landscape`): where NTP plateaus, and whether each auxiliary loss keeps falling after."""
    rows = [["configuration", "NTP plateaus from step", "loss", "at the plateau", "fitted change to the end (95% CI)", "keeps falling"]]
    for plateau in data.plateaus:
        if plateau.plateau_step is None:
            rows.append([plateau.label, f"not by the end (step {plateau.last_step})", "—", "—", "—", "—"])
            continue
        start = f"{plateau.plateau_step} (of {plateau.last_step})"
        for after in plateau.after:
            if after.fit is None:
                rows.append([plateau.label, start, f"`{after.series}`", "n/a", "n/a", "n/a"])
                continue
            stretch = plateau.last_step - plateau.plateau_step
            interval = (
                f" ({signed(after.fit.low * stretch, 4)} to {signed(after.fit.high * stretch, 4)})" if after.fit.low is not None else ""
            )
            falling = {True: "yes", False: "no", None: "n/a (too few points)"}[after.falling]
            rows.append(
                [plateau.label, start, f"`{after.series}`", fmt(after.at_plateau, 4), f"{signed(after.change, 4)}{interval}", falling]
            )
    if len(rows) == 1:
        return []
    stp = [(plateau.label, after) for plateau in data.plateaus for after in plateau.after if after.series.startswith("stp_")]
    several = len({after.series for _, after in stp}) > 1  # then each configuration is named with its form

    def named(found: list) -> str:
        return ", ".join(dict.fromkeys(f"`{label}`" + (f" ({fd.series_title(after.series)})" if several else "") for label, after in found))

    keeps = [(label, after) for label, after in stp if after.falling]
    stops = [(label, after) for label, after in stp if after.falling is False]
    summary = []
    if keeps:
        summary.append(f"STP keeps falling after NTP's plateau for {named(keeps)}")
    if stops:
        summary.append(f"STP does not keep falling after NTP's plateau for {named(stops)}")
    return [
        f"Plateau test: NTP has plateaued from the earliest logged step after which it falls by at most "
        f"{ls.PLATEAU_FALL:.0%} of its whole fall (with {ls.PLATEAU_POINTS} or more logged points left); a loss keeps falling "
        "when its least-squares slope over the runs' points from there to the end has a 95% interval below 0 "
        f"({docs(data, 'curves', 'the plateau test')}).",
        "",
        *table(rows),
        "",
        *([f"{'; '.join(summary)} (the paper's Fig. 4a: STP keeps falling once NTP has plateaued).", ""] if summary else []),
    ]


def _full_data_note(data: ReportData) -> str:
    largest = data.largest_fraction
    return f"Runs at train_fraction={show(FRACTION, largest)} (the full data of this grid). " if FRACTION in data.design.varying else ""


def figure_4b(data: ReportData) -> list[str]:
    if data.figure_4b is None:
        return []
    return [
        "## Losses against lambda (Figure 4b)",
        "",
        *figure_link(data.figure_4b, "Figure 4b: final losses against lambda"),
        f"{_full_data_note(data)}Lambda = 0 (plain fine-tuning) cannot sit on a log axis: it is the dashed line.",
        "",
        *lambda_tables(data),
    ]


def lambda_tables(data: ReportData) -> list[str]:
    """Figure 4b's tests (`landscape`): STP's slope in log lambda where it falls, NTP against lambda 0."""
    rows = [["line", "loss", "lambdas fitted (where it falls)", "slope per decade of lambda (95% CI)", "R²", "mean by lambda"]]
    for found in data.landscape:
        for slope in found.slopes:
            means = ", ".join(f"{stp_lambda:g}: {fmt(mean, 4)}" for stp_lambda, mean in slope.means.items())
            if slope.fit is None:
                rows.append([found.line, f"`{slope.series}`", "none: STP is lowest at the smallest lambda", "n/a", "n/a", means])
                continue
            fit = slope.fit
            interval = f" ({signed(fit.low, 4)} to {signed(fit.high, 4)})" if fit.low is not None else ""
            lambdas = ", ".join(f"{stp_lambda:g}" for stp_lambda in slope.lambdas)
            rows.append([found.line, f"`{slope.series}`", lambdas, f"{signed(fit.slope, 4)}{interval}", fmt(fit.r_squared), means])
    ntp_rows = [["line", "lambda", "pairs", "final NTP - λ=0 (95% CI)", "relative", f"within ±{ls.NTP_TOLERANCE:.0%}"]]
    for found in data.landscape:
        for change in found.ntp:
            interval = change.interval
            ci = f" ({signed(interval.low, 4)} to {signed(interval.high, 4)})" if interval.low is not None else ""
            relative = f"{change.relative:+.1%}" if change.relative is not None else "n/a"
            ntp_rows.append(
                [found.line, f"{change.stp_lambda:g}", str(interval.n), f"{signed(interval.mean, 4)}{ci}", relative, change.verdict]
            )
    lines = []
    if len(rows) > 1:
        lines += [
            "STP against log10 lambda over the range where it falls (from the smallest lambda to the one with the lowest mean), "
            f"every run a point ({docs(data, 'lambda', 'the fit')}):",
            "",
            *table(rows),
            "",
        ]
    if len(ntp_rows) > 1:
        verdicts = [
            f"`{found.line}`: {'unchanged at every lambda' if found.ntp_unchanged else 'not shown unchanged at every lambda'}"
            for found in data.landscape
            if found.ntp
        ]
        lines += [
            f"Final NTP against the lambda-0 runs, paired by seed: unchanged where the 95% interval of the difference lies within "
            f"±{ls.NTP_TOLERANCE:.0%} of their mean NTP, higher or lower where it excludes 0 otherwise, else not resolved.",
            "",
            *table(ntp_rows),
            "",
            f"NTP {'; '.join(verdicts)} (the paper's Fig. 4b: NTP unchanged across lambda).",
            "",
        ]
    return lines


def figure_7(data: ReportData) -> list[str]:
    if data.figure_7 is None:
        return []
    return [
        "## Accuracy against lambda (Figure 7)",
        "",
        *figure_link(data.figure_7, "Figure 7: accuracy against lambda"),
        f"{_full_data_note(data)}Lambda = 0 (plain fine-tuning) is the dashed line.",
        "",
        *peak_table(data),
    ]


def peak_table(data: ReportData) -> list[str]:
    """Figure 7's quadratic in log10 lambda (`landscape`): concavity, the peak, what the test set resolves."""
    rows = [["task", "line", "lambdas", "c (x²)", "concave: p (c < 0)", "peak lambda (95% CI)", "means span", "test set resolves"]]
    notes = []
    for peak in data.accuracy_peaks:
        lambdas = ", ".join(f"{stp_lambda:g}" for stp_lambda in peak.lambdas)
        resolves = f"{fmt(peak.resolvable)} (N={peak.test_count})" if peak.resolvable is not None else "n/a"
        if peak.fit is None:
            rows.append([peak.task, peak.line, lambdas, "n/a (needs 3 lambdas)", "n/a", "n/a", fmt(peak.span), resolves])
            continue
        concave = (
            "n/a (no residual degree of freedom)"
            if peak.fit.concave_p is None
            else f"{'yes' if peak.concave else 'no'}, p = {format_p(peak.fit.concave_p)}"
        )
        if peak.peak_lambda is None:
            where = "none (the fit is not concave)"
        else:
            interval = peak.peak_interval
            ci = f" ({interval[0]:.3g} to {interval[1]:.3g})" if interval else " (unbounded: a bounded 95% interval needs c below 0 at the two-sided 5% level)"
            where = f"{peak.peak_lambda:.3g}{ci}{'' if peak.peak_inside else ', outside the lambdas tried'}"
        rows.append([peak.task, peak.line, lambdas, f"{peak.fit.c:+.4f}", concave, where, fmt(peak.span), resolves])
        if peak.resolvable is not None:
            verb = "more than" if peak.span > peak.resolvable else "less than"
            notes.append(
                f"`{peak.line}` on {peak.task}: the means span {fmt(peak.span)} across lambda, {verb} the {fmt(peak.resolvable)} a "
                f"test set of {peak.test_count} resolves between two lambdas"
                + (
                    ""
                    if peak.span > peak.resolvable
                    else " (the fit's p covers training randomness only: the curve's shape holds for these test examples "
                    "and may not carry over to the task)"
                )
            )
    if len(rows) == 1:
        return []
    return [
        "Accuracy against x = log10 lambda, every run a point, fitted by a + b x + c x²: concave where c < 0 with one-tailed "
        "p < 0.05; the peak is 10^(-b / 2c), with Fieller's 95% interval; the test set resolves (80% power, 5%) about "
        f"(z_0.95 + z_0.80) sqrt(2 p (1 - p) / N) between two lambdas near the best mean p ({docs(data, 'accuracy', 'the fit')}).",
        "",
        *table(rows),
        "",
        *([f"{'; '.join(notes)}.", ""] if notes else []),
    ]


def figure_6(data: ReportData) -> list[str]:
    lines = []
    for figure in data.figure_6:
        lines += [
            f"## SVD spectra, {figure.task} (Figure 6)",
            "",
            *figure_link(figure, f"Figure 6: SVD of Enc(Text) - Enc(Code), {figure.task}"),
            "Singular values of Enc(Text) - Enc(Code) from `eval/<task>/eval.json` (analyses.svd), averaged index by index over seeds.",
            "",
        ]
    return lines
