"""How the report writes numbers and tables (`report.text`): each rule on a hand-picked value."""

from semantic_tube.experiments import stats
from semantic_tube.experiments.report import text
from semantic_tube.run_folder import Status


def test_numbers_signs_and_missing_values():
    assert (text.fmt(0.61666), text.fmt(0.5, 1), text.fmt(None)) == ("0.617", "0.5", "n/a")
    assert (text.signed(0.04), text.signed(-0.0066), text.signed(None)) == ("+0.040", "-0.007", "n/a")


def test_p_values_keep_three_significant_digits_and_go_scientific_below_one_in_a_thousand():
    assert text.format_p(0.053412) == "0.0534"
    assert text.format_p(0.000114) == "1.14e-04"  # below 1e-3
    assert text.format_p(0.00114) == "0.00114" and text.format_p(0.001) == "0.001" and text.format_p(None) == "n/a"


def test_mean_std_names_n_only_when_it_differs_from_the_rows():
    point = stats.Summary(0.4125, 0.0177, 2)
    assert text.mean_std(point, n_of_row=2) == "0.412 ± 0.018"
    assert text.mean_std(point, n_of_row=3) == "0.412 ± 0.018 (n=2)"
    assert text.mean_std(stats.Summary(0.5, None, 1), n_of_row=1) == "0.500 ± n/a"
    assert text.mean_std(stats.Summary(None, None, 0)) == "n/a"


def test_a_table_escapes_pipes_and_newlines_in_its_cells():
    assert text.table([["a", "b"], ["x|y", "one\ntwo"]]) == ["| a | b |", "|---|---|", "| x\\|y | one two |"]


def test_distinct_values_show_each_with_its_count_plural_and_quoted_labels():
    assert text.distinct([3, 3, 3]) == "3"
    assert text.distinct(["a", "b", "a"]) == "a (2 runs); b (1 run)"
    assert text.distinct(["x", "y"], unit="seed") == "x (1 seed); y (1 seed)"
    assert (text.plural(1, "run"), text.plural(0, "run"), text.plural(2, "figure")) == ("1 run", "0 runs", "2 figures")
    assert text.quoted(["ntp", "stp"]) == "`ntp`, `stp`"
    assert text.status_name(Status.FINISHED) == "finished" and text.status_name("failed") == "failed"
