"""What a data file holds for STP: `stp data stats FILE --model PATH`.

Turns per row, and per role its characters or, with a tokenizer, its tokens (system, user,
assistant content, plain text, and the template's own tokens); with `max_length`, how many rows
training cuts (turns left out, a text truncated) or cannot train at all; and the share of tokens
STP's draws can reach: the content tokens of the trajectory (`EncodedExample.segments`, or query
and answer) over all tokens kept. Computed here, rendered by `format_conversation_stats`.
"""

from __future__ import annotations

from collections import Counter

from semantic_tube.data.chat import encode_example
from semantic_tube.data.messages import ChatExample, DataError, Example, TextExample

ROLES = ("system", "user", "assistant", "text")


def conversation_stats(examples: list[Example], tokenizer=None, *, max_length: int | None = None, template_kwargs: dict | None = None) -> dict:
    """Keys: rows, text_rows, turns (exchanges per chat row: count -> rows), chars (role -> total),
    and with a tokenizer: tokens (role -> total content tokens, plus template), rows_cut, rows_failed
    (first error), reachable_share (the trajectory's tokens over all kept tokens)."""
    chat = [e for e in examples if isinstance(e, ChatExample)]
    chars = Counter()
    for e in chat:
        chars["system"] += len(e.system or "")
        for user, assistant in e.exchanges:
            chars["user"] += len(user)
            chars["assistant"] += len(assistant)
    chars["text"] = sum(len(e.text) for e in examples if isinstance(e, TextExample))
    stats = {
        "rows": len(examples),
        "text_rows": len(examples) - len(chat),
        "turns": dict(sorted(Counter(len(e.exchanges) for e in chat).items())),
        "chars": {role: chars[role] for role in ROLES},
    }
    if tokenizer is None:
        return stats
    tokens, cut, failed, reachable, kept = Counter(), 0, [], 0, 0
    limit = max_length or 10**9
    for e in examples:
        try:
            whole = encode_example(tokenizer, e, max_length=10**9, template_kwargs=template_kwargs)
            encoded = encode_example(tokenizer, e, max_length=limit, template_kwargs=template_kwargs)
        except DataError as err:
            failed.append(str(err))
            continue
        if isinstance(e, TextExample):
            pieces = [("text", whole.answer_span)]
        else:
            segments = whole.segments or [whole.query_span, whole.answer_span]
            pieces = [("user" if i % 2 == 0 else "assistant", span) for i, span in enumerate(segments)]
        for role, (a, b) in pieces:
            tokens[role] += b - a
        tokens["template and system"] += len(whole.input_ids) - sum(b - a for _, (a, b) in pieces)
        cut += len(encoded.input_ids) < len(whole.input_ids)
        kept_segments = encoded.segments or [encoded.query_span, encoded.answer_span]
        reachable += sum(max(0, min(b, len(encoded.input_ids)) - a) for a, b in kept_segments)
        kept += len(encoded.input_ids)
    stats |= {
        "tokens": {role: tokens[role] for role in ("user", "assistant", "text", "template and system")},
        "max_length": max_length,
        "rows_cut": cut,
        "rows_failed": len(failed),
        "first_failure": failed[0] if failed else None,
        "reachable_share": reachable / kept if kept else 0.0,
    }
    return stats


def format_conversation_stats(stats: dict) -> str:
    """The stats as a few aligned lines."""
    turns = ", ".join(f"{n}: {rows}" for n, rows in stats["turns"].items()) or "none"
    lines = [
        f"rows: {stats['rows']} ({stats['text_rows']} plain text)",
        f"exchanges per chat row (exchanges: rows): {turns}",
        "characters per role: " + ", ".join(f"{role} {count}" for role, count in stats["chars"].items()),
    ]
    if "tokens" in stats:
        lines.append("tokens per role: " + ", ".join(f"{role} {count}" for role, count in stats["tokens"].items()))
        limit = f"max_length={stats['max_length']}" if stats["max_length"] else "no max_length"
        lines.append(f"rows cut ({limit}): {stats['rows_cut']}; rows that cannot be trained: {stats['rows_failed']}")
        if stats["first_failure"]:
            lines.append(f"  first: {stats['first_failure']}")
        lines.append(f"tokens STP's draws can reach: {stats['reachable_share']:.1%}")
    return "\n".join(lines)
