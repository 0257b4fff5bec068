"""Small stand-ins shared by the tests (the TMDB stand-in itself is ``ingest.standin``)."""

from __future__ import annotations

import time


class LambdaContext:
    """Lambda's context, as far as the handler uses it: a clock that runs out."""

    def __init__(self, budget_s: float) -> None:
        self.deadline = time.monotonic() + budget_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))
