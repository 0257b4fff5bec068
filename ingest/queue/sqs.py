"""The queue: an SQS queue through aioboto3 (AWS, or LocalStack/moto via ``AWS_ENDPOINT_URL``).

Sends go ten to a ``SendMessageBatch``; an entry SQS refuses in a batch that otherwise went
through is sent again, up to ``_SEND_ATTEMPTS`` times. Receives long-poll and ask for each
message's receive count and sent time (redelivery, dead-lettering and the queue's age
come from them). Retries of whole calls are botocore's own (standard mode): the one retry
layer for SQS. A queue that does not exist, or that the credentials may not use, is a
``ConfigError`` naming ``INGEST_QUEUE_URL``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aioboto3
import orjson
import structlog
from aiobotocore.config import AioConfig
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from ingest.errors import ConfigError, RetryableError

log = structlog.get_logger(__name__)

# SQS takes at most ten entries per SendMessageBatch and ten messages per receive.
SEND_BATCH = 10
RECEIVE_MAX = 10
_SEND_ATTEMPTS = 5
_NO_QUEUE = ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist", "NonExistentQueue")
_DENIED = ("AccessDenied", "AccessDeniedException", "InvalidClientTokenId", "UnrecognizedClientException")


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
    __slots__ = ("_client", "url")

    def __init__(self, client: Any, url: str) -> None:
        self._client = client
        self.url = url

    @classmethod
    @asynccontextmanager
    async def connect(cls, url: str) -> AsyncIterator[SqsQueue]:
        config = AioConfig(
            retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=10, read_timeout=40
        )
        async with aioboto3.Session().client("sqs", config=config) as client:
            yield cls(client, url)

    async def send(self, bodies: Sequence[str]) -> int:
        """Send every body; return how many were sent."""
        for start in range(0, len(bodies), SEND_BATCH):
            await self._send_ten(bodies[start : start + SEND_BATCH])
        return len(bodies)

    async def _send_ten(self, bodies: Sequence[str]) -> None:
        pending = {str(i): body for i, body in enumerate(bodies)}
        for attempt in range(1, _SEND_ATTEMPTS + 1):
            entries = [{"Id": i, "MessageBody": b} for i, b in pending.items()]
            resp = await self._call(
                "send", self._client.send_message_batch, QueueUrl=self.url, Entries=entries
            )
            failed = resp.get("Failed") or []
            for entry in resp.get("Successful") or []:
                pending.pop(entry["Id"], None)
            if not pending:
                return
            log.warning(
                "queue_send_refused", entries=len(failed), attempt=attempt, code=failed[0].get("Code")
            )
            await asyncio.sleep(0.2 * attempt)
        raise RetryableError(f"SQS refused {len(pending)} messages after {_SEND_ATTEMPTS} attempts")

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

    async def max_receive_count(self) -> int | None:
        """The queue's ``maxReceiveCount`` (its RedrivePolicy), or None without a dead-letter queue."""
        resp = await self._call(
            "read attributes",
            self._client.get_queue_attributes,
            QueueUrl=self.url,
            AttributeNames=["RedrivePolicy"],
        )
        policy = resp.get("Attributes", {}).get("RedrivePolicy")
        if not policy:
            return None
        return int(orjson.loads(policy)["maxReceiveCount"])

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
        try:
            return await fn(**kwargs)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in _NO_QUEUE:
                raise ConfigError(
                    f"SQS queue {self.url} does not exist: create it or fix INGEST_QUEUE_URL"
                ) from None
            if code in _DENIED:
                raise ConfigError(
                    f"SQS refused {what} on {self.url} ({code}): check the credentials and their policy"
                ) from None
            raise RetryableError(f"SQS {what} failed ({code or 'error'})") from None
        except NoCredentialsError:
            raise ConfigError(
                "no AWS credentials found for SQS: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, or run with a task role"
            ) from None
        except (BotoCoreError, OSError) as exc:
            raise RetryableError(f"SQS {what} failed ({type(exc).__name__})") from None


def _received(m: dict[str, Any]) -> Received:
    attrs = m.get("Attributes", {})
    return Received(
        message_id=m["MessageId"],
        receipt=m["ReceiptHandle"],
        body=m["Body"],
        receive_count=int(attrs.get("ApproximateReceiveCount", 1)),
        sent_at=int(attrs.get("SentTimestamp", 0)) / 1000,
    )
