"""A task's part of report.md (`render.tasks`): the cells of Tables 4-5."""

from semantic_tube.experiments import stats
from semantic_tube.experiments.report.render.tasks import p_cell


def test_a_p_cell_is_struck_above_alpha_in_table_5_and_names_fewer_pairs():
    three = stats.PairedTest(3, 0.01, 0.01, 1.7, 0.1153)
    assert p_cell(three, 3, strike=False) == "0.115"
    assert p_cell(three, 3, strike=True) == "~~0.115~~"  # 0.115 > 0.05
    assert p_cell(stats.PairedTest(3, 0.04, 0.01, 5.2, 0.0173), 3, strike=True) == "0.0173"  # significant: not struck
    assert p_cell(stats.PairedTest(2, 0.01, 0.01, 1.0, 0.25), 3, strike=False) == "0.25 (n=2)"
    assert p_cell(stats.PairedTest(1, 0.01, None, None, None), 3, strike=True) == "n<2"
    same = stats.PairedTest(3, 0.02, 0.0, None, None, reason="every pair differs by the same amount")
    assert p_cell(same, 3, strike=False) == "n/a: every pair differs by the same amount"
