"""The queue: an SQS queue through aioboto3 (AWS, or LocalStack/moto via ``AWS_ENDPOINT_URL``).

Sends go ten to a ``SendMessageBatch``; the entries SQS refuses in a batch that otherwise
went through are sent again, as a transient failure of the call. Receives long-poll and
ask for each message's receive count and sent time (redelivery, dead-lettering and the
queue's age come from them). The retry rule is S3's (``ingest.remote.aws_errors``): botocore at
one attempt, every call tried at most ``ATTEMPTS`` times with ``BACKOFF`` between
transient failures, retries shown as one ``requests_retried`` summary (remote ``sqs``).
A queue that does not exist, or that the credentials may not use, is a ``ConfigError``
naming ``INGEST_QUEUE_URL``.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aioboto3
import orjson
import structlog
from aiobotocore.config import AioConfig

from ingest.errors import RetryableError
from ingest.remote.aws_errors import Remote, Unsent, retrying
from ingest.remote.retry import Backoff, RetrySummary

log = structlog.get_logger(__name__)

# SQS takes at most ten entries per SendMessageBatch and ten messages per receive.
SEND_BATCH = 10
RECEIVE_MAX = 10
# Attempts per call, the first included, and the waits between them; tests shorten it.
ATTEMPTS = 5
BACKOFF = Backoff(base_s=0.2, cap_s=5.0)


@dataclass(frozen=True, slots=True)
class Received:
    message_id: str
    receipt: str
    body: str
    # How many times SQS has handed this message out, this time included.
    receive_count: int
    # When it was first sent, in seconds since the epoch.
    sent_at: float


class SqsQueue:
    __slots__ = ("_client", "_remote", "_retries", "_rng", "url")

    def __init__(self, client: Any, url: str) -> None:
        self._client = client
        self.url = url
        self._remote = Remote(
            "SQS",
            RetryableError,
            f"create the queue or fix INGEST_QUEUE_URL ({url}), and check the credentials",
        )
        self._retries = RetrySummary("sqs")
        self._rng = random.Random()

    @classmethod
    @asynccontextmanager
    async def connect(cls, url: str) -> AsyncIterator[SqsQueue]:
        config = AioConfig(
            # One retry layer: ours (``_call``), as for S3.
            retries={"total_max_attempts": 1, "mode": "standard"},
            connect_timeout=10,
            read_timeout=40,
        )
        async with aioboto3.Session().client("sqs", config=config) as client:
            queue = cls(client, url)
            try:
                yield queue
            finally:
                queue._retries.flush()

    async def send(self, bodies: Sequence[str]) -> int:
        """Send every body; return how many were sent."""
        for start in range(0, len(bodies), SEND_BATCH):
            await self._send_ten(bodies[start : start + SEND_BATCH])
        return len(bodies)

    async def _send_ten(self, bodies: Sequence[str]) -> None:
        pending = {str(i): body for i, body in enumerate(bodies)}

        async def attempt() -> None:
            entries = [{"Id": i, "MessageBody": b} for i, b in pending.items()]
            resp = await self._client.send_message_batch(QueueUrl=self.url, Entries=entries)
            for entry in resp.get("Successful") or []:
                pending.pop(entry["Id"], None)
            if pending:
                failed = resp.get("Failed") or [{}]
                raise Unsent(str(failed[0].get("Code", "")))

        await self._retrying("send", attempt)

    async def receive(self, most: int, wait_s: int, visibility_s: int) -> list[Received]:
        resp = await self._call(
            "receive",
            self._client.receive_message,
            QueueUrl=self.url,
            MaxNumberOfMessages=max(1, min(most, RECEIVE_MAX)),
            WaitTimeSeconds=wait_s,
            VisibilityTimeout=visibility_s,
            MessageSystemAttributeNames=["ApproximateReceiveCount", "SentTimestamp"],
        )
        return [_received(m) for m in resp.get("Messages") or []]

    async def renew(self, receipt: str, visibility_s: int) -> None:
        """Hide the message ``visibility_s`` more seconds from now: its batch is still running."""
        await self._call(
            "change visibility",
            self._client.change_message_visibility,
            QueueUrl=self.url,
            ReceiptHandle=receipt,
            VisibilityTimeout=visibility_s,
        )

    async def delete(self, receipt: str) -> None:
        await self._call("delete", self._client.delete_message, QueueUrl=self.url, ReceiptHandle=receipt)

    async def _redrive_policy(self) -> dict[str, Any] | None:
        """The queue's RedrivePolicy, parsed; None without a dead-letter queue."""
        resp = await self._call(
            "read attributes",
            self._client.get_queue_attributes,
            QueueUrl=self.url,
            AttributeNames=["RedrivePolicy"],
        )
        policy = resp.get("Attributes", {}).get("RedrivePolicy")
        return dict(orjson.loads(policy)) if policy else None

    async def max_receive_count(self) -> int | None:
        """The queue's ``maxReceiveCount`` (its RedrivePolicy), or None without a dead-letter queue."""
        policy = await self._redrive_policy()
        return None if policy is None else int(policy["maxReceiveCount"])

    async def dead_letters(self) -> tuple[int, str] | None:
        """Messages on the queue's dead-letter queue (every date's: SQS cannot count by
        body) and that queue's ARN, the redrive's source; None without one."""
        policy = await self._redrive_policy()
        if policy is None:
            return None
        arn = str(policy["deadLetterTargetArn"])
        # arn:aws:sqs:<region>:<account>:<name>
        account, name = arn.split(":")[4:6]
        found = await self._call(
            "find the dead-letter queue",
            self._client.get_queue_url,
            QueueName=name,
            QueueOwnerAWSAccountId=account,
        )
        dead = SqsQueue(self._client, str(found["QueueUrl"]))
        waiting, in_flight = await dead.depth()
        return waiting + in_flight, arn

    async def depth(self) -> tuple[int, int]:
        """Messages waiting, and messages in flight (received, not yet deleted); SQS's
        approximate counts."""
        resp = await self._call(
            "read attributes",
            self._client.get_queue_attributes,
            QueueUrl=self.url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )
        attrs = resp.get("Attributes", {})
        return (
            int(attrs.get("ApproximateNumberOfMessages", 0)),
            int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0)),
        )

    async def _call(self, what: str, fn: Any, **kwargs: Any) -> Any:
        return await self._retrying(what, lambda: fn(**kwargs))

    async def _retrying(self, what: str, attempt_once: Callable[[], Awaitable[Any]]) -> Any:
        return await retrying(
            self._remote,
            what,
            attempt_once,
            attempts=ATTEMPTS,
            backoff=BACKOFF,
            rng=self._rng,
            summary=self._retries,
        )


def _received(m: dict[str, Any]) -> Received:
    attrs = m.get("Attributes", {})
    return Received(
        message_id=m["MessageId"],
        receipt=m["ReceiptHandle"],
        body=m["Body"],
        receive_count=int(attrs.get("ApproximateReceiveCount", 1)),
        sent_at=int(attrs.get("SentTimestamp", 0)) / 1000,
    )
