"""A queue consumer's counters, apart from the consumer so /metrics reads them without
importing the AWS SDK."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass(slots=True)
class QueueCounters:
    """What the consumer did since it started: read by /metrics."""

    received: int = 0
    # Deleted because their batch is in the lake (written now, or found there).
    done: int = 0
    failed: int = 0
    # Received again (ApproximateReceiveCount > 1): a worker died, or the batch failed before.
    redelivered: int = 0
    # Failed at the last receive the queue allows: SQS moves them to the dead-letter queue.
    dead_lettered: int = 0
    # Given back at once (visibility 0) because a dependency was lost, not counted as failed.
    given_back: int = 0
    # A dependency is lost: nothing is received until the readiness checks pass again.
    paused: bool = False
    in_flight: int = 0
    # When each message the worker holds now was first sent (message id -> epoch seconds):
    # the queue's lag is the age of the oldest of them, now, not a high-water mark.
    holding: dict[str, float] = field(default_factory=dict)

    def oldest_age_s(self, now: float | None = None) -> float:
        """Seconds since the oldest message held now was sent; 0 when none is held."""
        if not self.holding:
            return 0.0
        return max(0.0, (time.time() if now is None else now) - min(self.holding.values()))
