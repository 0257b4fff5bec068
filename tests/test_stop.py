"""``Stop.finish`` and ``Stop.cut_in``: the one drain-then-cancel of the service, the queue
worker and the Lambda. Fake work on the event loop; no network, and no timed assertion
(a cut is asserted by what ran, never by how long it took)."""

from __future__ import annotations

import asyncio

import pytest

from ingest.run.stop import Stop


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
