"""A million ids ordered and deduplicated in compact arrays, for the catalogue's plan.

TMDB's movie export lists about 1.1M ids. Held as Python ints in a list, each costs 36
to 40 bytes and a sort of them a second list as large; held in an ``array`` each costs
8. So the order keys are kept in an ``array("Q")``, sorted a slice at a time (a sample
picks the slices' bounds, each slice is sorted on its own and appended), and ids are
checked against an ``IdSet``, a bitmap as long as the largest id (TMDB's ids are dense:
200 KB for 1.6M) that falls back to a set when the ids are too sparse for one.
"""

from __future__ import annotations

import struct
from array import array
from bisect import bisect_right
from collections.abc import Iterable

_FLOAT = struct.Struct("<f")
_BITS = struct.Struct("<I")
LOW = (1 << 32) - 1
# Keys sorted as one Python list at a time, at most about this many (a few MB).
_SLICE = 1 << 16
# A bitmap larger than this (an export with ids far above its count) is a set instead.
_BITMAP_BYTES = 1 << 24


def order_key(popularity: float, movie_id: int) -> int:
    """Ascending order of these keys is popularity descending, then id ascending: a
    non-negative float32's bits sort as the number does."""
    bits: int = _BITS.unpack(_FLOAT.pack(min(max(popularity, 0.0), 3e38)))[0]
    return ((LOW - bits) << 32) | movie_id


def sort_keys(keys: array[int]) -> array[int]:
    """``keys`` in ascending order, without ever holding them as one Python list."""
    n = len(keys)
    if n <= _SLICE:
        return array("Q", sorted(keys))
    sample = sorted(keys[:: max(1, n // 4096)])
    slices = 2 * -(-n // _SLICE)
    bounds = [sample[i * len(sample) // slices] for i in range(1, slices)]
    parts = [array("Q") for _ in range(slices)]
    for k in keys:
        parts[bisect_right(bounds, k)].append(k)
    out = array("Q")
    for i, part in enumerate(parts):
        out.extend(sorted(part))
        parts[i] = array("Q")
    return out


class IdSet:
    """Which ids have been seen: one bit an id up to the largest, else a set."""

    __slots__ = ("_bits", "_set")

    def __init__(self, largest: int) -> None:
        size = largest // 8 + 1
        # The bitmap, when the ids are dense enough for one; else None and ``_set`` is used.
        self._bits: bytearray | None = bytearray(size) if size <= _BITMAP_BYTES else None
        # The fallback for sparse ids.
        self._set: set[int] = set()

    @classmethod
    def of(cls, ids: Iterable[int], largest: int) -> IdSet:
        seen = cls(largest)
        for i in ids:
            seen.add(i)
        return seen

    def add(self, i: int) -> bool:
        """Mark ``i`` seen; True when it was not seen before."""
        if self._bits is None:
            if i in self._set:
                return False
            self._set.add(i)
            return True
        byte, bit = i >> 3, 1 << (i & 7)
        if self._bits[byte] & bit:
            return False
        self._bits[byte] |= bit
        return True

    def __contains__(self, i: int) -> bool:
        if self._bits is None:
            return i in self._set
        byte = i >> 3
        return byte < len(self._bits) and bool(self._bits[byte] & (1 << (i & 7)))


def first_of_each(keys: array[int]) -> tuple[array[int], list[int]]:
    """Sorted ``keys`` with an id listed twice kept once, at its most popular place (a
    batch per listing would fetch and store the movie twice); and the ids listed twice."""
    seen = IdSet(max((k & LOW for k in keys), default=0))
    kept: array[int] = array("Q")
    twice: list[int] = []
    for k in keys:
        if seen.add(k & LOW):
            kept.append(k)
        else:
            twice.append(k & LOW)
    return kept, twice
