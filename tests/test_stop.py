"""``Stop.finish`` and ``Stop.cut_in``: the one drain-then-cancel of the service, the queue
worker and the Lambda. Fake work on the event loop; no network, and no timed assertion
(a cut is asserted by what ran, never by how long it took)."""

from __future__ import annotations

import asyncio

import pytest

from ingest.errors import Interrupted
from ingest.stop import Stop


async def test_work_that_finishes_in_time_returns_its_result() -> None:
    stop = Stop()

    async def work() -> str:
        await asyncio.sleep(0)
        return "done"

    assert await stop.finish(work(), cut_after_s=60) == "done"
    assert not stop.cut


async def test_work_still_running_at_the_cut_is_cancelled() -> None:
    stop = Stop()
    cancelled = asyncio.Event()

    async def work() -> str:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "never"

    assert await stop.finish(work(), cut_after_s=0.01) is None
    assert stop.cut and cancelled.is_set()


async def test_cut_in_moves_the_cut_of_running_work_and_of_work_not_started_yet() -> None:
    stop = Stop()
    started = asyncio.Event()

    async def forever() -> str:
        started.set()
        await asyncio.Event().wait()
        return "never"

    async with asyncio.TaskGroup() as tg:
        running = tg.create_task(stop.finish(forever()))
        await started.wait()
        # The service's SIGTERM: no limit until now, then the grace period (here none).
        stop.cut_in(0)
    assert running.result() is None and stop.cut

    # A signal before the work starts still bounds it.
    early = Stop()
    early.cut_in(0)
    assert await early.finish(forever()) is None and early.cut


async def test_a_later_cut_never_postpones_an_earlier_one() -> None:
    stop = Stop()
    stop.cut_in(0)
    stop.cut_in(3600)

    async def forever() -> str:
        await asyncio.Event().wait()
        return "never"

    assert await stop.finish(forever()) is None


async def test_the_works_own_timeout_goes_through() -> None:
    stop = Stop()

    async def times_out() -> None:
        async with asyncio.timeout(0):
            await asyncio.Event().wait()

    with pytest.raises(TimeoutError):
        await stop.finish(times_out(), cut_after_s=3600)
    assert not stop.cut


@pytest.mark.parametrize("grace_s", [None, 60.0])
async def test_a_wait_for_the_rate_gets_the_services_grace_not_the_short_default(
    monkeypatch: pytest.MonkeyPatch, grace_s: float | None
) -> None:
    """The service lets the batches in flight finish within its grace period: their turns
    at the rate limiter are waited out until then, where a plain stop cuts them short."""
    monkeypatch.setattr(Stop, "GRACE_S", 0.05)
    stop = Stop()
    entered = asyncio.Event()

    async def turn_at_the_rate() -> str:
        try:
            async with stop.interruptible():
                entered.set()
                await asyncio.sleep(0.2)
        except Interrupted:
            return "interrupted"
        return "served"

    async with asyncio.TaskGroup() as tg:
        waiting = tg.create_task(turn_at_the_rate())
        await entered.wait()
        stop.request("sigterm", grace_s=grace_s)
    assert waiting.result() == ("interrupted" if grace_s is None else "served")
