"""The kinds of value a setting can hold, each with its own parsing and its own bounds.

A value reaches a kind from a command-line flag or the environment (text), or from
``config.toml`` or a Lambda event (already typed). ``parse`` turns either into the value
the settings hold, or raises ``Invalid`` with the half sentence that goes after the
setting's name: "must be a whole number between 1 and 100, got 2.9". Values are shown
truncated, and secrets never.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ingest.errors import ConfigError
from ingest.settings.appends import KNOWN, MOST, Appends
from ingest.settings.genres import GENRES, MEDIA, Genre, resolve_genre
from ingest.settings.invalid import SHOWN_CHARS, Invalid, show
from ingest.settings.lake_url import check_lake_url

# Longer text is cut in messages: a 100,000-character argument must not fill the terminal.
_WHOLE = re.compile(r"[+-]?[0-9]{1,19}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MIB = 1024 * 1024


def _text(raw: Any, expected: str) -> str:
    if not isinstance(raw, str):
        raise Invalid(f"must be {expected}, got {show(raw)}")
    if not raw.strip():
        raise Invalid(f"must be {expected}, got an empty value")
    return raw.strip()


@dataclass(frozen=True, slots=True)
class Whole:
    lo: int
    hi: int

    @property
    def expected(self) -> str:
        return f"a whole number between {self.lo:,} and {self.hi:,}"

    def parse(self, raw: Any) -> int:
        value: int | None = None
        if isinstance(raw, str) and _WHOLE.fullmatch(raw.strip()):
            value = int(raw)
        elif isinstance(raw, int) and not isinstance(raw, bool):
            value = raw
        if value is None or not self.lo <= value <= self.hi:
            raise Invalid(f"must be {self.expected}, got {show(raw)}")
        return value


@dataclass(frozen=True, slots=True)
class Mebibytes(Whole):
    """Written in whole MiB; held in bytes."""

    def parse(self, raw: Any) -> int:
        return super(Mebibytes, self).parse(raw) * MIB


@dataclass(frozen=True, slots=True)
class Number:
    lo: float
    hi: float
    unit: str = ""

    @property
    def expected(self) -> str:
        return f"a number{self.unit} between {self.lo:g} and {self.hi:,g}"

    def parse(self, raw: Any) -> float:
        value = math.nan
        if isinstance(raw, str) and len(raw) < 30:
            try:
                value = float(raw)
            except ValueError:
                pass
        elif isinstance(raw, int | float) and not isinstance(raw, bool):
            value = float(raw)
        if not (math.isfinite(value) and self.lo <= value <= self.hi):
            raise Invalid(f"must be {self.expected}, got {show(raw)}")
        return value


@dataclass(frozen=True, slots=True)
class Flag:
    expected = "true or false"

    def parse(self, raw: Any) -> bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in {"true", "false"}:
            return raw.strip().lower() == "true"
        raise Invalid(f"must be {self.expected}, got {show(raw)}")


@dataclass(frozen=True, slots=True)
class Text:
    expected: str = "a non-empty string"

    def parse(self, raw: Any) -> str:
        value = _text(raw, self.expected)
        if _CONTROL.search(value):
            raise Invalid(f"must be {self.expected}, got {show(raw)}")
        return value


@dataclass(frozen=True, slots=True)
class Choice:
    """One of a few words (``full``, ``incremental``; ``DEBUG``, ``INFO``), in any case;
    the value is the word as the table writes it."""

    choices: tuple[str, ...]

    @property
    def expected(self) -> str:
        return "one of " + ", ".join(self.choices)

    def parse(self, raw: Any) -> str:
        value = _text(raw, self.expected)
        # The table's spelling of the word, so "Full" and "debug" are read as meant.
        found = next((c for c in self.choices if c.lower() == value.lower()), None)
        if found is None:
            hint = suggestion(value, self.choices, ignore_case=True)
            raise Invalid(f"must be {self.expected}, got {show(raw)}{hint}")
        return found


@dataclass(frozen=True, slots=True)
class LakeUrl:
    expected = "s3://bucket[/prefix] or a local directory"

    def parse(self, raw: Any) -> str:
        value = _text(raw, self.expected)
        if _CONTROL.search(value):
            raise Invalid(f"must be {self.expected}, got {show(raw)}")
        # The rule's owner is the lake package.
        return check_lake_url(value)


@dataclass(frozen=True, slots=True)
class HttpUrl:
    expected = "an http:// or https:// URL such as https://api.themoviedb.org"

    def parse(self, raw: Any) -> str:
        value = _text(raw, self.expected)
        try:
            parts = None if _CONTROL.search(value) else urlsplit(value)
        except ValueError:  # an unclosed [ipv6 bracket
            parts = None
        if parts is None or parts.scheme not in {"http", "https"} or not parts.hostname:
            raise Invalid(f"must be {self.expected}, got {show(without_userinfo(value))}")
        if bad_port(parts.netloc):
            raise Invalid(f"must have a port between 1 and 65535, got {show(without_userinfo(value))}")
        # TMDB's documentation writes the root with /3; the client adds it itself.
        return value.rstrip("/").removesuffix("/3")


def bad_port(netloc: str) -> bool:
    """Whether the ``host:port`` part of a URL names a port no socket can have."""
    try:
        port = urlsplit(f"//{netloc}").port
    except ValueError:  # out of range, or not a number
        return True
    return port == 0


def without_userinfo(url: str) -> str:
    """``url`` with any ``user:password@`` replaced: never printed, never logged."""
    return re.sub(r"(?<=://)[^/@]*@", "***@", url)


@dataclass(frozen=True, slots=True)
class Secret:
    expected = "the token or key alone, on one line"

    def parse(self, raw: Any) -> str | None:
        if not isinstance(raw, str):
            raise Invalid(f"must be {self.expected}")
        if not raw:
            return None  # set but empty: the same as not set
        found = _CONTROL.search(raw)
        if found:
            # Never the value itself: only where the stray character is.
            raise Invalid(
                f"must be {self.expected}: it holds a control character (code {ord(found.group()):#04x}) "
                f"at position {found.start() + 1} of {len(raw)}; copy it again without line breaks"
            )
        return raw


@dataclass(frozen=True, slots=True)
class Day:
    earliest = dt.date(1900, 1, 1)

    @staticmethod
    def latest() -> dt.date:
        # A partition for next year's date is a typo more often than a plan.
        return dt.datetime.now(dt.UTC).date() + dt.timedelta(days=366)

    @property
    def expected(self) -> str:
        return f"a date YYYY-MM-DD between {self.earliest} and {self.latest()} (a year from today)"

    def parse(self, raw: Any) -> dt.date:
        value: dt.date | None = None
        if isinstance(raw, dt.date):
            value = raw
        elif isinstance(raw, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw.strip(), re.ASCII):
            try:
                value = dt.date.fromisoformat(raw.strip())
            except ValueError:
                pass
        if value is None or not self.earliest <= value <= self.latest():
            raise Invalid(f"must be {self.expected}, got {show(raw)}")
        return value


@dataclass(frozen=True, slots=True)
class FilePath:
    expected = "a path to a file"

    def parse(self, raw: Any) -> Path:
        return Path(_text(str(raw) if isinstance(raw, Path) else raw, self.expected))


@dataclass(frozen=True, slots=True)
class Paths:
    expected = 'a list of file paths such as ["data/movies.csv"]'

    def parse(self, raw: Any) -> tuple[Path, ...]:
        if not isinstance(raw, list | tuple):
            raise Invalid(f"must be {self.expected}, got {show(raw)}")
        return tuple(Path(_text(p, "a file path such as data/movies.csv")) for p in raw)


@dataclass(frozen=True, slots=True)
class Genres:
    expected = 'a list of genre names or TMDB ids such as ["war", "crime", 10752]'

    def parse(self, raw: Any) -> tuple[Genre, ...]:
        if not isinstance(raw, list | tuple):
            raise Invalid(f"must be {self.expected}, got {show(raw)}")
        return tuple(dict.fromkeys(_genre(g) for g in raw))


# A media's one record, as a message names it.
ONE = {"movies": "movie", "series": "series"}


class SubResources:
    expected = (
        'a table of media to sub-resource names, e.g. {series = ["keywords", "external_ids", "credits"]}'
    )

    def parse(self, raw: Any) -> Appends:
        if isinstance(raw, Appends):
            return raw
        if not isinstance(raw, dict):
            raise Invalid(f"must be {self.expected}, got {show(raw)}")
        chosen: dict[str, tuple[str, ...]] = {}
        for media, names in raw.items():
            _media(media)
            if not isinstance(names, list | tuple) or not all(isinstance(n, str) for n in names):
                raise Invalid(f"{media} must be a list of sub-resource names, got {show(names)}")
            for name in names:
                if name not in KNOWN[media]:
                    known = ", ".join(KNOWN[media])
                    raise Invalid(
                        f"{media} names {show(name)}, which TMDB does not append to a {ONE[media]}'s "
                        f"details{suggestion(name, KNOWN[media])}: use some of {known}"
                    )
            if len(names) > MOST:
                raise Invalid(f"{media} names {len(names)} sub-resources: TMDB appends at most {MOST}")
            chosen[media] = tuple(dict.fromkeys(names))
        return Appends(**chosen)


class MediaList:
    expected = 'a list of "movies" and "series" (or one comma list, such as "movies,series")'

    def parse(self, raw: Any) -> tuple[str, ...]:
        if isinstance(raw, str):
            raw = [raw]
        if not isinstance(raw, list | tuple) or not all(isinstance(m, str) for m in raw):
            raise Invalid(f"must be {self.expected}, got {show(raw)}")
        words = [w.strip().lower() for m in raw for w in m.split(",") if w.strip()]
        for w in words:
            _media(w)
        if not words:
            raise Invalid(f"must name at least one media: {self.expected}")
        return tuple(dict.fromkeys(words))


def _media(word: Any) -> str:
    """``word`` if it names a media (movies, series); else the one message for it."""
    if word not in MEDIA:
        raise Invalid(f"names {show(word)}, not a media: use movies or series{suggestion(str(word), MEDIA)}")
    return str(word)


def _genre(raw: Any) -> Genre:
    # Genre names are short ASCII words: anything else cannot name one ("²" passes isdigit).
    plausible = isinstance(raw, int) and not isinstance(raw, bool)
    plausible |= isinstance(raw, str) and raw.isascii() and len(raw) <= SHOWN_CHARS
    if plausible:
        # A movie genre, or one TMDB's TV has alone (``--media series``: checked for the
        # media asked for once the media are known, ``Job.series_genres``).
        for media in MEDIA:
            try:
                return resolve_genre(raw, media)
            except ConfigError:
                pass
    known = ", ".join(g.slug for g in GENRES)
    raise Invalid(
        f"names an unknown genre {show(raw)}: use an English name ({known}), "
        "guerra/crime, or a TMDB genre id such as 80 or 10752"
    )


def suggestion(word: str, known: Sequence[str], *, ignore_case: bool = False) -> str:
    """ " (did you mean X?)" for the closest known word (as ``known`` spells it), or nothing."""
    from difflib import get_close_matches

    spelled = {k.lower() if ignore_case else k: k for k in known}
    close = get_close_matches(word.lower() if ignore_case else word, list(spelled), n=1, cutoff=0.6)
    return f" (did you mean {spelled[close[0]]}?)" if close else ""
