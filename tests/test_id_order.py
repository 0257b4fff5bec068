"""The catalogue plan's compact ordering: sorted a slice at a time, deduplicated by bitmap."""

from __future__ import annotations

import random
from array import array

from ingest.tmdb.id_order import LOW, IdSet, first_of_each, order_key, sort_keys


def test_keys_sorted_a_slice_at_a_time_come_out_as_one_sort_would() -> None:
    rng = random.Random(7)
    # Over the one-list size, with most movies sharing the same few popularities (as on
    # TMDB, where most sit near 0.6) so the slices' bounds fall inside runs of equal ones.
    keys = [
        order_key(rng.choice((0.6, 0.6, 0.6, 1.4)) + rng.random() * (rng.random() < 0.1), i)
        for i in range(1, 200_001)
    ]
    rng.shuffle(keys)
    out = sort_keys(array("Q", keys))
    assert out.typecode == "Q" and out.tolist() == sorted(keys)
    assert sort_keys(array("Q", keys[:10])).tolist() == sorted(keys[:10])
    assert sort_keys(array("Q")).tolist() == []


def test_an_id_listed_twice_is_kept_once_at_its_most_popular_place() -> None:
    keys = sort_keys(array("Q", [order_key(1.0, 5), order_key(9.0, 5), order_key(3.0, 8), order_key(2.0, 8)]))
    kept, twice = first_of_each(keys)
    assert [(k & LOW) for k in kept] == [5, 8] and kept.tolist() == [order_key(9.0, 5), order_key(3.0, 8)]
    assert sorted(twice) == [5, 8]


def test_an_id_set_answers_alike_as_a_bitmap_and_for_ids_too_sparse_for_one() -> None:
    for largest in (1_000, 1 << 31):  # the second is over the bitmap's size: a set
        seen = IdSet.of([3, 999, largest], largest)
        assert seen.add(4) and not seen.add(3) and not seen.add(largest)
        assert 3 in seen and 4 in seen and largest in seen
        assert 5 not in seen and largest + 10 not in seen and 0 not in seen
