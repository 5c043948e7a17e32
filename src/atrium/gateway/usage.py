"""Usage metering: one record per inference request, written in batches off the request path.

``UsageRecorder.record`` never blocks a request: records go into a bounded queue that a
background task flushes every ``flush_interval_s`` or ``batch_size`` records. A full queue
drops the record, counts it and says so in the log (and in ``/metrics``). A failed write is
retried with the same batch; ``stop()`` flushes everything still queued.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict, dataclass
from datetime import datetime

from atrium.errors import StoreUnavailableError
from atrium.store.database import Database
from atrium.store.schema import UsageRow

logger = logging.getLogger("atrium.usage")
RETRY_DELAY_S = 2.0


@dataclass(frozen=True, slots=True)
class UsageEvent:
    created_at: datetime
    request_id: str
    key_id: str | None
    deployment: str | None
    model: str | None
    route: str
    status: int
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    latency_ms: float
    ttft_ms: float | None
    content_filter: str | None = None


def usage_row(event: UsageEvent) -> UsageRow:
    hour = event.created_at.replace(minute=0, second=0, microsecond=0)
    return UsageRow(**asdict(event), period_hour=hour, period_day=event.created_at.date())


@dataclass(slots=True)
class UsageCounters:
    recorded: int = 0
    written: int = 0
    dropped: int = 0
    failed_writes: int = 0


class UsageRecorder:
    def __init__(
        self,
        db: Database,
        *,
        queue_size: int = 10_000,
        batch_size: int = 500,
        flush_interval_s: float = 1.0,
    ) -> None:
        self._db = db
        self._queue: asyncio.Queue[UsageEvent] = asyncio.Queue(maxsize=queue_size)
        self._batch_size = batch_size
        self._flush_interval_s = flush_interval_s
        self._pending: list[UsageEvent] = []
        self._task: asyncio.Task[None] | None = None
        self._writing: asyncio.Future[bool] | None = None
        self.counters = UsageCounters()

    @property
    def depth(self) -> int:
        return self._queue.qsize() + len(self._pending)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="atrium-usage-writer")

    def record(self, event: UsageEvent) -> None:
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.counters.dropped += 1
            if self.counters.dropped == 1 or self.counters.dropped % 1000 == 0:
                logger.warning(
                    "usage queue full (%d records): %d usage record(s) dropped so far",
                    self._queue.maxsize,
                    self.counters.dropped,
                )
            return
        self.counters.recorded += 1

    async def _run(self) -> None:
        while True:
            await self._collect()
            if not self._pending:
                continue
            # Shielded: cancelling the writer (stop) must not leave a half-known write.
            self._writing = asyncio.ensure_future(self._write_pending())
            if not await asyncio.shield(self._writing):
                await asyncio.sleep(RETRY_DELAY_S)

    async def _collect(self) -> None:
        """Wait for a first record, then take what arrives within the flush interval."""
        if not self._pending:
            self._pending.append(await self._queue.get())
        deadline = asyncio.get_running_loop().time() + self._flush_interval_s
        while len(self._pending) < self._batch_size:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return
            # Not asyncio.wait_for: before Python 3.12 it swallows a cancellation that
            # arrives just as the get completes, and stop() would then wait forever.
            try:
                async with asyncio.timeout(remaining):
                    self._pending.append(await self._queue.get())
            except TimeoutError:
                return

    async def _write_pending(self) -> bool:
        batch = list(self._pending)
        try:
            await self._db.run(lambda session: session.add_all([usage_row(e) for e in batch]))
        except StoreUnavailableError as exc:
            self.counters.failed_writes += 1
            logger.error("writing %d usage record(s) failed, will retry: %s", len(batch), exc)
            return False
        del self._pending[: len(batch)]
        self.counters.written += len(batch)
        return True

    async def stop(self) -> None:
        """Stop the writer and flush everything queued (nothing is lost on a clean stop)."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise  # our caller is being cancelled, not just the writer
            self._task = None
        if self._writing is not None:
            await self._writing
        while not self._queue.empty():
            self._pending.append(self._queue.get_nowait())
        if self._pending and not await self._write_pending():
            logger.error("%d usage record(s) could not be written at shutdown", len(self._pending))
