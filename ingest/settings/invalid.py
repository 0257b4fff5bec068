"""A value a setting refuses, and how a message quotes a value: the leaf both the
settings' kinds (``ingest.settings.types``) and the rules they call (``ingest.settings.lake_url``)
stand on."""

from __future__ import annotations

from typing import Any

# A value longer than this is cut when a message quotes it.
SHOWN_CHARS = 40


class Invalid(Exception):
    """A value a kind refuses; the message goes after the setting's name."""


def show(value: Any) -> str:
    """A value as a message quotes it: ``repr``, cut to a readable length."""
    text = repr(value) if isinstance(value, str) else str(value)
    if len(text) <= SHOWN_CHARS:
        return text
    length = f" ({len(value):,} characters)" if isinstance(value, str) else ""
    return f"{text[:SHOWN_CHARS]}...{length}"
