"""Table 1's split of accuracy by the answer's suffix, and the count of predictions per suffix."""

from __future__ import annotations

from semantic_tube.evaluation.diversity import OTHER, suffix_class, suffix_metrics


def test_suffix_split_uses_the_longest_suffix():
    assert suffix_class("a.*.*", (".*", ".*.*")) == ".*.*"
    assert suffix_class("a.*", (".*", ".*.*")) == ".*"
    assert suffix_class("a+", (".*", ".*.*")) == "other"
    records = [
        {"reference": "a.*", "prediction": "a.*.*", "verdicts": {"equivalent": True}},
        {"reference": "b.*.*", "prediction": "b.*.*", "verdicts": {"equivalent": True}},
        {"reference": "c.*.*", "prediction": "d", "verdicts": {"equivalent": False}},
    ]
    metrics = suffix_metrics(records, ("equivalent",))
    assert metrics["suffix[.*]/count"] == 1 and metrics["suffix[.*.*]/count"] == 2
    assert metrics["suffix[.*.*]/equivalent"] == 0.5
    assert metrics["suffix[.*.*]/predicted"] == 2 and metrics["suffix[other]/predicted"] == 1


def test_suffix_class_ignores_surrounding_whitespace():
    assert suffix_class("  a.* \n", (".*", ".*.*")) == ".*"
    assert suffix_class("a.*", ()) == OTHER


def test_answers_ending_in_no_suffix_are_counted_under_other():
    """Both references end in no listed suffix: `other` holds 2 examples, 1 exact (0.5); the `.*`
    class is empty (no rate), though one prediction ends with `.*`. A suffix listed twice is one class."""
    records = [
        {"reference": "a+", "prediction": "a.*", "verdicts": {"exact": False}},
        {"reference": "b", "prediction": "b", "verdicts": {"exact": True}},
    ]
    metrics = suffix_metrics(records, ("exact",), (".*", ".*"))
    assert metrics["suffix[other]/count"] == 2 and metrics["suffix[other]/exact"] == 0.5
    assert metrics["suffix[.*]/count"] == 0 and metrics["suffix[.*]/exact"] is None
    assert metrics["suffix[.*]/predicted"] == 1 and metrics["suffix[other]/predicted"] == 1
    assert not any(key.startswith("suffix[.*.*]") for key in metrics)
