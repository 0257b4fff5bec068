"""What the client did, as the stand-in saw it (served as JSON on ``/__stats``)."""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Counters:
    """What the client did, as the server saw it."""

    # Requests by endpoint: "discover", "movie" (details and keywords), "collection", "changes",
    # and for TV "discover_tv", "tv" (details and sub-resources), "tv_changes"; "other".
    requests: collections.Counter[str] = field(default_factory=collections.Counter)
    status: collections.Counter[int] = field(default_factory=collections.Counter)
    # Attempts per movie / collection id, whatever the answer.
    movie_requests: collections.Counter[int] = field(default_factory=collections.Counter)
    movie_ok: collections.Counter[int] = field(default_factory=collections.Counter)
    collection_requests: collections.Counter[int] = field(default_factory=collections.Counter)
    discover_queries: collections.Counter[str] = field(default_factory=collections.Counter)
    # Changes-feed requests by range asked for: (start_date, end_date), as sent.
    changes_queries: collections.Counter[tuple[str, str]] = field(default_factory=collections.Counter)
    # The same for TV: series answered 200 by id, /discover/tv and /tv/changes queries.
    series_ok: collections.Counter[int] = field(default_factory=collections.Counter)
    discover_tv_queries: collections.Counter[str] = field(default_factory=collections.Counter)
    tv_changes_queries: collections.Counter[tuple[str, str]] = field(default_factory=collections.Counter)
    # 429s sent because the enforced rate was passed (not the injected ones).
    throttled: int = 0
    throttled_with_retry_after: int = 0
    injected_429: int = 0
    injected_5xx: int = 0
    stalled: int = 0
    unauthorized: int = 0
    refused_connections: int = 0
    in_flight: int = 0
    peak_in_flight: int = 0
    # When the first and the last request arrived (the server's clock): the client's active
    # window, apart from its own start-up and shut-down.
    first_request_s: float | None = None
    last_request_s: float | None = None
    # The same per endpoint: [first, last] (a catalogue's movie window without its planning).
    windows: dict[str, list[float]] = field(default_factory=dict)

    def saw_request(self, now: float, endpoint: str) -> None:
        if self.first_request_s is None:
            self.first_request_s = now
        self.last_request_s = now
        self.windows.setdefault(endpoint, [now, now])[1] = now

    @property
    def total(self) -> int:
        return sum(self.requests.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "requests": dict(self.requests),
            "status": {str(k): v for k, v in sorted(self.status.items())},
            "distinct_movies_ok": len(self.movie_ok),
            "distinct_series_ok": len(self.series_ok),
            "throttled": self.throttled,
            "throttled_with_retry_after": self.throttled_with_retry_after,
            "injected_429": self.injected_429,
            "injected_5xx": self.injected_5xx,
            "stalled": self.stalled,
            "unauthorized": self.unauthorized,
            "refused_connections": self.refused_connections,
            "peak_in_flight": self.peak_in_flight,
            "active_s": None
            if self.first_request_s is None or self.last_request_s is None
            else round(self.last_request_s - self.first_request_s, 4),
            "active_s_by_endpoint": {k: round(b - a, 4) for k, (a, b) in sorted(self.windows.items())},
        }


def endpoint_of(path: str) -> str:
    """The ``requests`` key a request path counts under."""
    if path == "/3/movie/changes":
        return "changes"
    if path == "/3/tv/changes":
        return "tv_changes"
    if path == "/3/discover/tv":
        return "discover_tv"
    parts = path.split("/")
    endpoint = parts[2] if len(parts) > 2 else "other"
    return endpoint if endpoint in ("discover", "movie", "collection", "tv") else "other"


def query_label(q: Any) -> str:
    """The ``discover_queries`` key of a discover query: its parameters but the page and key."""
    parts = [f"{k}={q[k]}" for k in sorted(q) if k not in ("page", "api_key")]
    return "&".join(parts)
