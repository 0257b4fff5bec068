"""A queue consumer's counters, apart from the consumer so /metrics reads them without
importing the AWS SDK."""

from __future__ import annotations

from dataclasses import dataclass


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
    # Age in seconds of the oldest message received so far (sent -> received).
    oldest_age_s: float = 0.0
