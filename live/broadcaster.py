"""One LISTEN per web process, fanned out to the process's open event streams.

    broadcaster = Broadcaster.shared()
    subscription = await broadcaster.subscribe(user)     # starts listening on first use
    event = await subscription.next(timeout=15)          # None: nothing within the timeout
    broadcaster.unsubscribe(subscription)

Messages come from mvcontrol/events.py publish(), sent by whichever process changed something.
Each becomes an Event numbered in this process's order and kept in a bounded buffer, so a
browser that reconnects to this process with the last id it saw gets what it missed; a number
the buffer no longer holds, or another process's, gets a `resync` instead. What a message only
names (a multiviewer, a refresh run, a preset job) is read here once, whatever the number of
streams.

The listener has its own psycopg connection (asynchronous, autocommit) to the default database.
When it drops, every stream is told to `resync` once the listener is back: messages sent
meanwhile are lost.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections import deque
from dataclasses import dataclass, field

from asgiref.sync import sync_to_async
from django.db import close_old_connections, connections

from live.audience import Audience, audience_of
from live.messages import Event, enrich
from mvcontrol.events import CHANNEL

logger = logging.getLogger(__name__)

BUFFER = 1000  # events kept for replay
QUEUE = 500  # events a slow stream may fall behind before it is told to resync
RETRY_SECONDS = (0.5, 1, 2, 5)


@dataclass(eq=False)
class Subscription:
    user_id: int
    audience: Audience
    joined_after: int  # the last event number before this stream's queue started
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(QUEUE))
    behind: bool = False  # the queue overflowed: the stream must resync

    async def next(self, timeout: float) -> Event | None:
        try:
            return await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            return None


class Broadcaster:
    _shared: Broadcaster | None = None

    def __init__(self) -> None:
        self.tag = secrets.token_hex(4)  # this process's event ids: "<tag>-<n>"
        self.number = 0
        self.buffer: deque[Event] = deque(maxlen=BUFFER)
        self.subscriptions: set[Subscription] = set()
        self.listening = asyncio.Event()
        self._task: asyncio.Task | None = None

    @classmethod
    def shared(cls) -> Broadcaster:
        if cls._shared is None:
            cls._shared = cls()
        return cls._shared

    # --- streams ---------------------------------------------------------------------------

    async def subscribe(self, user) -> Subscription:
        self._start()
        audience = await self.audience(user)
        subscription = Subscription(user.pk, audience, self.number)
        self.subscriptions.add(subscription)
        return subscription

    async def audience(self, user) -> Audience:
        """What `user` may see now."""
        return await sync_to_async(_read_audience, thread_sensitive=False)(user)

    def unsubscribe(self, subscription: Subscription) -> None:
        self.subscriptions.discard(subscription)

    def since(self, last_id: str) -> list[Event] | None:
        """The buffered events after `last_id`; None when they cannot be told (another process's
        id, or older than the buffer): the stream must resync."""
        tag, _, number = last_id.partition("-")
        if tag != self.tag or not number.isdigit():
            return None
        after = int(number)
        if after > self.number:
            return None
        if after < self.number and (not self.buffer or self.buffer[0].number > after + 1):
            return None
        return [event for event in self.buffer if event.number > after]

    def event_id(self, event: Event) -> str:
        return f"{self.tag}-{event.number}"

    # --- the listener ----------------------------------------------------------------------

    def _start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._listen())

    async def _listen(self) -> None:
        import psycopg

        failures = 0
        while True:
            try:
                params = await sync_to_async(_connection_params, thread_sensitive=False)()
                async with await psycopg.AsyncConnection.connect(**params,
                                                                 autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    if failures:
                        logger.warning("Listening for changes again.")
                        await self._deliver(Event(0, "resync", {}))
                    failures = 0
                    async for notify in conn.notifies():
                        await self._receive(notify.payload)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure: the pages must hear about it, then retry
                self.listening.clear()
                if failures == 0:
                    logger.error("Lost the database's change notifications (%s: %s); retrying.",
                                 type(exc).__name__, exc)
                delay = RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)]
                failures += 1
                await asyncio.sleep(delay)

    async def _receive(self, payload: str) -> None:
        try:
            message = json.loads(payload)
        except ValueError:
            logger.error("Ignored a change notification that is not JSON.")
            return
        # Not thread-sensitive: this task outlives the request that started it.
        event = await sync_to_async(_enriched, thread_sensitive=False)(message)
        if event is not None:
            await self._deliver(event)

    async def _deliver(self, event: Event) -> None:
        self.number += 1
        event.number = self.number
        if event.kind != "resync":
            self.buffer.append(event)
        for subscription in list(self.subscriptions):
            try:
                subscription.queue.put_nowait(event)
            except asyncio.QueueFull:
                subscription.behind = True


def _read_audience(user) -> Audience:
    close_old_connections()
    try:
        return audience_of(user)
    finally:
        close_old_connections()


def _enriched(message: dict) -> Event | None:
    close_old_connections()
    try:
        return enrich(message)
    finally:
        close_old_connections()


def _connection_params() -> dict:
    wrapper = connections["default"]
    params = wrapper.get_connection_params()
    for key in ("cursor_factory", "context", "prepare_threshold"):
        params.pop(key, None)
    return params
