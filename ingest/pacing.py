"""How requests are paced against a per-IP budget: the limiter's room and the fleet's share.

Below both the settings (which give each process its share of an egress IP's budget) and
``ingest.tmdb.rate`` (whose limiters pace at that share).
"""

from __future__ import annotations

# A limiter's bucket holds just over one request: the pacing's lateness is given back by
# letting the next request go up to a tenth of a slot early, never two at once.
ROOM = 1.1


def fleet_share(budget_per_s: float, workers: int) -> float:
    """One process's rate when ``workers`` processes share one egress IP's budget.

    Each limiter admits at most ``ROOM + rate x T`` requests in any T seconds, and
    limiters in separate processes, each paced evenly, can still line their bursts up.
    So each gets its share less its room, ``N x (ROOM + share) <= budget`` in any second,
    and the fleet never passes the budget however the processes fall. One process keeps
    the whole budget (its own pacing already holds it to the sliding second).
    """
    if workers <= 1:
        return budget_per_s
    share = budget_per_s / workers
    return max(share - ROOM, share / 2)
