"""Text that every database can store: no NUL characters, valid UTF-8 (no lone surrogates)."""

from __future__ import annotations

MAX_DB_INT = 2**31 - 1  # ids are 32-bit integers in the schema


def storable_text(value: str) -> str:
    if "\x00" in value:
        raise ValueError("text must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("text must be valid UTF-8 (no lone surrogates)") from exc
    return value


# A campaign's name: lowercase words joined by hyphens, safe in a URL path, a file name and a Prometheus label.
CAMPAIGN_NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
