"""The guidelines' rich text: a small, safe subset of Markdown, parsed into blocks the labeling page builds
with text nodes only, so no HTML an admin writes ever reaches a labeler's page as HTML.

    Paragraphs are separated by a blank line.
    - a list item starts with "- " or "* " (every line of the block)
    **bold** and [a link](https://example.com) inside either; links only to http(s) addresses.

Anything else is text, shown as written.
"""

from __future__ import annotations

import re

MAX_BODY = 5000
MAX_QUESTION = 300
_INLINE = re.compile(r"\*\*(?P<bold>[^*\n]+?)\*\*|\[(?P<label>[^\]\n]+)\]\((?P<href>https?://[^\s)<>\"']+)\)")


def spans(text: str) -> list[dict]:
    """A line of text as spans: {"text"}, {"text", "bold": True} or {"text", "href"}."""
    out, at = [], 0
    for match in _INLINE.finditer(text):
        if match.start() > at:
            out.append({"text": text[at : match.start()]})
        if match["bold"] is not None:
            out.append({"text": match["bold"], "bold": True})
        else:
            out.append({"text": match["label"], "href": match["href"]})
        at = match.end()
    if at < len(text):
        out.append({"text": text[at:]})
    return out


def blocks(body: str) -> list[dict]:
    """{"type": "p", "spans": [...]} for a paragraph, {"type": "ul", "items": [[...], ...]} for a list."""
    out = []
    for chunk in re.split(r"\n\s*\n", body.replace("\r\n", "\n").strip()):
        lines = [line.strip() for line in chunk.split("\n") if line.strip()]
        if not lines:
            continue
        if all(line.startswith(("- ", "* ")) for line in lines):
            out.append({"type": "ul", "items": [spans(line[2:].strip()) for line in lines]})
        else:
            out.append({"type": "p", "spans": spans(" ".join(lines))})
    return out
