"""How the report writes numbers and tables: the formatting every section shares, no statistics."""

from __future__ import annotations

from collections import defaultdict

from semantic_tube.experiments import stats


def fmt(number: float | None, digits: int = 3) -> str:
    return "n/a" if number is None else f"{number:.{digits}f}"


def signed(number: float | None, digits: int = 3) -> str:
    return "n/a" if number is None else f"{number:+.{digits}f}"


def format_p(p: float | None) -> str:
    """Three significant digits, as the paper prints them (0.0534, 0.00114), below 1e-3 in powers of ten (1.14e-04)."""
    if p is None:
        return "n/a"
    return f"{p:.2e}" if p < 1e-3 else f"{p:.3g}"


def mean_std(point: stats.Summary, digits: int = 3, n_of_row: int | None = None) -> str:
    """`0.412 ± 0.031`, with `(n=2)` when this number rests on fewer runs than its row's n."""
    if not point.n:
        return "n/a"
    text = f"{point.mean:.{digits}f} ± {fmt(point.std, digits)}"
    return text if point.n == n_of_row else f"{text} (n={point.n})"


def table(rows: list[list[str]]) -> list[str]:
    """A Markdown table from a header row and body rows; cells have `|` escaped."""
    cells = [[str(cell).replace("|", "\\|").replace("\n", " ") for cell in row] for row in rows]
    return ["| " + " | ".join(cells[0]) + " |", "|" + "---|" * len(cells[0]), *("| " + " | ".join(row) + " |" for row in cells[1:])]


def distinct(values, unit: str = "run") -> str:
    """`x` when all agree, else each value with how many carry it: disagreements stay visible."""
    counts = defaultdict(int)
    for item in values:
        counts[item] += 1
    if len(counts) == 1:
        return str(next(iter(counts)))
    return "; ".join(f"{item} ({count} {unit}{'s' * (count != 1)})" for item, count in counts.items())


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'s' * (count != 1)}"


def quoted(labels) -> str:
    return ", ".join(f"`{label}`" for label in labels)


def status_name(status) -> str:
    """A run status as text, whether a plain string or a str Enum member (`Status.FINISHED`)."""
    return str(getattr(status, "value", status))
