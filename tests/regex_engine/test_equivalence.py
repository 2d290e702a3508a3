"""Verdicts, witnesses and language facts of `equivalent`, on the semantics of the brics dialect."""

import dataclasses
import logging

import pytest

from semantic_tube.regex import (
    BoundaryMode,
    EquivalenceResult,
    RegexSyntaxError,
    equivalent,
    fullmatch,
    is_empty_language,
)
from semantic_tube.regex.equivalence import clear_caches


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (".*", ".*.*"),
        ("a|b&c", "a"),  # b&c matches nothing
        ("a|b&c", "a|(b&c)"),
        ("~a*", "(~a)*"),
        ("\\b(X)&(Y)\\b", "(\\bX)&(Y\\b)"),
        ("(a|b)*", "(a*b*)*"),
        ("a+", "aa*"),
        ("a{2,3}", "aa|aaa"),
        ("a{0,}", "a*"),
        ("a{1,}", "a+"),
        ("a?", "()|a"),
        ("a{3}", "aaa"),
        ("[AEIOUaeiou]", "[AEIOU]|[aeiou]"),
        ("[A-Za-z]&[a-z]", "[a-z]"),
        ("[^a]", ".&~a"),
        ("@", ".*"),
        ("#", "a&b"),
        ("~(.*)", "#"),
        ("~()", ".+"),
        ("~~(dog)", "dog"),
        ("~(~a|~b)", "a&b"),
        ("(dog).*&.*(truck)", "dog.*truck|(dog)&(truck)|dogtruck"),
        ('"dog"', "dog"),
        ("a||b", "a|\\|b"),  # brics: the second bar is a literal
    ],
)
def test_equivalent_pairs(a, b):
    result = equivalent(a, b)
    assert result.status == "equivalent", result
    assert result.equal and result.witness is None


@pytest.mark.parametrize(
    ("a", "b", "witness"),
    [
        ("a.*", "a+", "ab"),
        ("a*", "a+", ""),
        ("~a*", ".*", "a"),  # (~a)* cannot build "a" from pieces that are not "a"
        ("~(a*)", ".*", ""),
        ("a{2,3}", "a{2,4}", "aaaa"),
        ("dog", "truck", "dog"),
        ("[a-z]", "[A-Za-z]", "A"),
    ],
)
def test_different_pairs_give_a_shortest_witness(a, b, witness):
    result = equivalent(a, b)
    assert result.status == "different"
    assert not result.equal
    assert result.witness == witness
    assert fullmatch(a, witness) != fullmatch(b, witness)


def test_witness_is_shortest():
    result = equivalent("(.*a.*){3}", "(.*a.*){2}")
    assert result.witness == "aa"


def test_alphabet_is_exact_beyond_the_mentioned_characters():
    """`.` must not be confused with the union of the classes the two regexes mention."""
    result = equivalent(".", "[a-z]|[A-Z]|[0-9]")
    assert result.status == "different"
    assert result.witness not in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    assert len(result.witness) == 1


def test_alphabet_is_that_of_brics_utf16_code_units():
    assert equivalent("[\x00-\uffff]*", ".*").equal
    assert equivalent("[^\x00-\uffff]", "#").equal
    assert equivalent("[\x00-\ufffe]", ".").witness == "\uffff"


@pytest.mark.parametrize("regex", ["a.*", "(dog).*", "[0-9].*.*", "x(.*)", "\\b.*"])
def test_a_regex_ending_in_dot_star_absorbs_another(regex):
    assert equivalent(regex, regex + ".*").equal
    assert equivalent(regex, regex + ".*.*").equal


@pytest.mark.parametrize(
    "regex",
    [
        "([A-Za-z])&(dog)&([0-9])",
        "a{3,2}",
        "(a{5,1})*b{4,3}",
        "#",
        "~(.*)",
        "(dog)&(truck)",
        "(~(.*))+",
    ],
)
def test_empty_languages(regex):
    assert is_empty_language(regex)
    result = equivalent(regex, "a&b")
    assert result.equal and result.left_empty and result.right_empty
    other = equivalent(regex, "dog")
    assert other.status == "different" and other.witness == "dog"
    assert other.left_empty and not other.right_empty


@pytest.mark.parametrize("regex", ["()", "a*", "~(.+)", "(a{5,1})*", "(~.)?"])
def test_not_empty_languages(regex):
    assert not is_empty_language(regex)


def test_repeat_with_min_above_max_matches_nothing_but_star_of_it_matches_empty():
    assert equivalent("(a{5,1})*", "()").equal
    assert equivalent("xa{5,1}", "#").equal


def test_empty_group_matches_only_the_empty_string():
    assert equivalent("()", "a{0}").equal
    assert equivalent("a()b", "ab").equal
    assert equivalent("()", "a?").witness == "a"


def test_complement_contains_the_empty_string():
    assert fullmatch("~a", "")
    assert not fullmatch("~a", "a")
    assert fullmatch("~a", "aa")
    assert equivalent("~(.+)", "()").equal
    assert equivalent("~a", "()|[^a]|...*").equal


def test_nested_complement():
    assert equivalent("~~~a", "~a").equal
    assert equivalent("~(~(dog)&~(cat))", "dog|cat").equal
    assert equivalent("~(.*~(a*).*)", "a*").equal  # no substring outside a*: only a's
    assert equivalent("~(~a)*", "a*").equal  # (~(~a))*


def test_universal_languages_are_reported():
    result = equivalent("~#", ".*|a")
    assert result.equal and result.left_universal and result.right_universal
    result = equivalent(".*", ".+")
    assert result.witness == "" and result.left_universal and not result.right_universal


class TestWordBoundary:
    def test_literal_mode_reads_the_letter_b(self):
        assert equivalent("\\b", "b").equal
        assert equivalent("\\bdog\\b", "bdogb", boundary="literal").equal
        assert fullmatch("\\b", "b")

    def test_strip_mode_reads_the_empty_string(self):
        assert equivalent("\\bdog\\b", "dog", boundary="strip").equal
        assert equivalent("\\b", "()", boundary="strip").equal

    def test_boundary_mode_needs_a_word_edge(self):
        assert equivalent("\\bdog\\b", "dog", boundary="boundary").equal  # string edges are non-word
        assert equivalent("\\b", "#", boundary="boundary").equal  # "" has no word character beside it
        result = equivalent(".*\\bdog\\b.*", ".*dog.*", boundary="boundary")
        assert result.status == "different"
        assert fullmatch(".*dog.*", result.witness) and not fullmatch(".*\\bdog\\b.*", result.witness, "boundary")

    def test_boundary_is_exact_inside_complement_and_intersection(self):
        # ~\b is every string but "" at a boundary; in whole-string matching that is every string.
        assert equivalent("~\\b", ".*", boundary="boundary").equal
        # "a" then a boundary then "b" can never happen between two word characters.
        assert equivalent("a\\bb", "#", boundary="boundary").equal
        assert equivalent("a\\b-", "a-", boundary="boundary").equal
        assert equivalent("(a\\b.*)&(a-.*)", "a-.*", boundary="boundary").equal
        assert equivalent("(a\\b.*)&(ab.*)", "#", boundary="boundary").equal
        assert equivalent(".*~(\\b).*", ".*", boundary="boundary").equal

    def test_boundary_mode_changes_the_verdict(self):
        pair = ("\\b(dog)\\b", "dog")
        assert not equivalent(*pair, boundary="literal").equal
        assert equivalent(*pair, boundary="strip").equal
        assert equivalent(*pair, boundary="boundary").equal

    def test_unknown_mode_is_rejected(self):
        with pytest.raises(ValueError):
            equivalent("a", "b", boundary="wordy")
        assert BoundaryMode("boundary") is BoundaryMode.BOUNDARY


def test_identical_strings_are_equal_without_parsing():
    assert equivalent("(", "(").equal
    result = equivalent("(dog)&(truck)", "(dog)&(truck)")
    assert result.equal and result.left_empty and result.right_empty


@pytest.mark.parametrize(("a", "b", "side"), [("(", "a", "left"), ("a", "a\\d", "right"), ("(", "a)", "both")])
def test_unparsable_sides_are_named(a, b, side):
    result = equivalent(a, b)
    assert result.status == "unparsable" and not result.equal
    assert result.unparsable_side == side


def test_unparsable_result_keeps_the_facts_of_the_parsable_side():
    result = equivalent("(a", "a&b")
    assert result.left_empty is None and result.right_empty is True


def test_timeout_is_not_equal_and_logged(caplog):
    slow = ("(.*a.*b.*c.*d.*){9,}", "(.*a.*b.*c.*d.*){9,}.*x")
    with caplog.at_level(logging.WARNING):
        result = equivalent(*slow, timeout_s=0.01)  # takes about 0.5 s
    assert result.status == "timeout" and not result.equal
    assert "timed out" in caplog.text


def test_results_are_cached_and_frozen():
    first = equivalent("a.*b", "a.*b.*&.*b")
    assert equivalent("a.*b", "a.*b.*&.*b") is first
    assert isinstance(first, EquivalenceResult)
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.status = "different"


def test_is_empty_language_raises_on_bad_syntax():
    with pytest.raises(RegexSyntaxError):
        is_empty_language("a)")


def test_clearing_the_caches_forgets_verdicts_but_not_answers():
    first = equivalent("(ab)*", "(ab)*(ab)*")
    clear_caches()
    again = equivalent("(ab)*", "(ab)*(ab)*")
    assert again is not first and again == first and again.equal


def test_an_emptiness_timeout_is_a_timeout_error():
    with pytest.raises(TimeoutError, match="undecided"):
        is_empty_language("(.*a.*b.*c.*d.*){9,}.*x&(.*a.*b.*c.*d.*){9,}", timeout_s=0.0)
