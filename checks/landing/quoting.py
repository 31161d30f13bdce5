"""Names and content from the landing zone are data: how they appear in every line we print or store.

A file name or a cell comes from the customer (or whoever can write to the source); shown raw, a
newline in it would forge an output line and a long file would flood the log. Everything from the
source passes through ``quoted`` (names) or ``excerpt`` (content) before it is printed or recorded.
"""
from __future__ import annotations

EXCERPT_LIMIT = 40


def quoted(name: object) -> str:
    """``name`` as is when it is plain printable text, else its Python ``repr`` (quotes, escapes)."""
    text = str(name)
    if text and text.isprintable() and text == text.strip():
        return text
    return repr(text)


def excerpt(content: object, limit: int = EXCERPT_LIMIT) -> str:
    """At most ``limit`` characters of ``content``, escaped, with an ellipsis when cut."""
    text = str(content)
    shown = text[:limit].encode("unicode_escape").decode("ascii")
    return shown + ("..." if len(text) > limit else "")


def one_line(message: object, limit: int = 300) -> str:
    """A message as one bounded line: control characters escaped, the rest cut at ``limit``."""
    text = "".join(char if char.isprintable() else char.encode("unicode_escape").decode("ascii") for char in str(message))
    return text if len(text) <= limit else text[:limit] + "..."
