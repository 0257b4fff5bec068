"""How requests are paced against a per-IP budget: each process's share of the fleet's.

Below the settings (which give each process its share of an egress IP's budget); the
limiter that holds a process to its share is ``ingest.tmdb.rate.SlidingWindow``.
"""

from __future__ import annotations

# What each process of a fleet leaves of its share, in requests per second.
ROOM = 1.1


def fleet_share(budget_per_s: float, workers: int) -> float:
    """One process's rate when ``workers`` processes share one egress IP's budget.

    Each process's limiter admits at most ``ceil(rate)`` requests in any sliding second
    (``ingest.tmdb.rate.SlidingWindow``), less than ``rate + ROOM``, however its requests
    fall and however the processes' fall together. So each gets its share less its room,
    ``N x ceil(share - ROOM) <= budget``, and the fleet never passes the budget in any second.
    One process keeps the whole budget (its own window already holds it to the sliding
    second).
    """
    if workers <= 1:
        return budget_per_s
    share = budget_per_s / workers
    return max(share - ROOM, share / 2)
