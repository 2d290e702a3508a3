"""What a data file holds for STP (data/conversation_stats.py): rows, exchanges, characters and
tokens per role, the rows max_length cuts, and the share of tokens STP's draws can reach."""

from semantic_tube.data.conversation_stats import conversation_stats, format_conversation_stats
from semantic_tube.data.messages import ChatExample, TextExample


def test_stats_count_turns_tokens_per_role_cut_rows_and_the_reachable_share():
    from semantic_tube.data.chat import encode_chat
    from tests.tiny_models import tiny_tokenizer

    tokenizer = tiny_tokenizer("chatml")
    two = ChatExample(user="lines with a vowel", assistant="s", history=(("what is 12 + 30?", "42"),))
    one = ChatExample(user="lines with a dog", assistant="(dog).*")
    text = TextExample("lines with a dog before a number")
    full = encode_chat(tokenizer, two, max_length=512)
    stats = conversation_stats([two, one, text], tokenizer, max_length=full.segments[3][1])  # cuts `two`'s last turn
    assert stats["turns"] == {1: 1, 2: 1} and stats["text_rows"] == 1
    assert stats["chars"]["assistant"] == len("s") + len("42") + len("(dog).*")
    content = {"user": 0, "assistant": 0}
    for i, (a, b) in enumerate(full.segments):
        content["user" if i % 2 == 0 else "assistant"] += b - a
    assert stats["tokens"]["assistant"] >= content["assistant"] and stats["rows_cut"] == 1 and stats["rows_failed"] == 0
    assert 0 < stats["reachable_share"] < 1
    assert "tokens STP's draws can reach" in format_conversation_stats(stats)



def test_without_a_tokenizer_the_counts_are_characters_by_hand():
    rows = [
        ChatExample(user="abc", assistant="de", system="sys"),
        ChatExample(user="u", assistant="vw", history=(("xy", "z"),)),
        TextExample("hello"),
    ]
    stats = conversation_stats(rows)
    assert stats == {
        "rows": 3, "text_rows": 1, "turns": {1: 1, 2: 1},
        "chars": {"system": 3, "user": 3 + 1 + 2, "assistant": 2 + 2 + 1, "text": 5},
    }  # fmt: skip
    assert format_conversation_stats(stats).splitlines() == [
        "rows: 3 (1 plain text)",
        "exchanges per chat row (exchanges: rows): 1: 1, 2: 1",
        "characters per role: system 3, user 6, assistant 5, text 5",
    ]


def test_a_text_only_file_has_no_exchanges():
    stats = conversation_stats([TextExample("a b")])
    assert stats["turns"] == {} and "exchanges per chat row (exchanges: rows): none" in format_conversation_stats(stats)


def test_a_row_that_cannot_be_encoded_is_counted_and_the_first_named():
    from semantic_tube.data.chat import encode_chat
    from tests.tiny_models import tiny_tokenizer

    tokenizer = tiny_tokenizer("chatml")
    short, long = ChatExample(user="q", assistant="a"), ChatExample(user="lines with a vowel", assistant="a " * 40)
    fits = len(encode_chat(tokenizer, short, max_length=512).input_ids)  # the short row, whole
    stats = conversation_stats([short, long], tokenizer, max_length=fits)  # cuts the long row's answer: it cannot train
    assert (stats["rows"], stats["rows_cut"], stats["rows_failed"]) == (2, 0, 1) and "max_length" in stats["first_failure"]
    text = format_conversation_stats(stats)
    assert f"rows cut (max_length={fits}): 0; rows that cannot be trained: 1" in text and "  first: " in text
