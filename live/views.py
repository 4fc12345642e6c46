"""GET /api/events: the server-sent events stream the control page follows.

An async view, so an open stream holds no worker thread: under ASGI (mvcontrol/asgi.py) one
process serves hundreds of streams beside its ordinary requests. The session cookie
authenticates it like any API read (a GET: no CSRF token needed).

Each event has an `id:` (this process's order), an `event:` type and one JSON `data:` line.
A reconnecting browser sends the last id it saw (Last-Event-ID) and gets what it missed, or a
`resync` when it cannot be told. A comment line every HEARTBEAT seconds keeps proxies from
closing an idle stream. The stream ends when its user is deactivated.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from asgiref.sync import sync_to_async
from django.db import connections
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.views.decorators.http import require_GET

from live.broadcaster import Broadcaster, Subscription
from live.messages import Event
from mvcontrol.api_errors import error_body

HEARTBEAT = 15.0  # seconds
LISTEN_WAIT = 5.0  # seconds a new stream waits for the listener after a database outage
RECONNECT_MS = 3000  # what the browser waits before reconnecting


@require_GET
async def events(request: HttpRequest) -> HttpResponse:
    user = await request.auser()
    if not user.is_authenticated or not user.is_active:
        return JsonResponse(error_body("not_authenticated", "Log in to follow the changes."),
                            status=401)
    if user.must_change_password:
        return JsonResponse(error_body(
            "password_change_required", "You must change your password before doing anything "
            "else (POST /api/auth/password)."), status=403)
    # The stream lasts: the connection this request borrowed (its session, its user) goes back
    # to the pool now, before anything waits, and again once the middleware is done with it.
    await sync_to_async(connections.close_all)()
    broadcaster = Broadcaster.shared()
    subscription = await broadcaster.subscribe(user)
    # The answer starts once this process listens: from then on nothing is missed, so a page
    # may read the state as soon as its stream is open.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(broadcaster.listening.wait(), LISTEN_WAIT)
    response = StreamingHttpResponse(
        _stream(broadcaster, subscription, user, request.headers.get("Last-Event-ID")),
        content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response


async def _stream(broadcaster: Broadcaster, subscription: Subscription, user,
                  last_id: str | None) -> AsyncIterator[str]:
    try:
        await sync_to_async(connections.close_all)()
        yield f"retry: {RECONNECT_MS}\n\n"
        if last_id:
            missed = broadcaster.since(last_id)
            if missed is None:
                yield _format(broadcaster, Event(0, "resync", {}), {})
            else:
                # What came after joined_after is in the queue already.
                for event in missed:
                    if event.number <= subscription.joined_after:
                        text = _shown(broadcaster, subscription, event)
                        if text:
                            yield text
        while True:
            event = await subscription.next(HEARTBEAT)
            if subscription.behind:
                # Fell too far behind (a stalled connection): what was dropped cannot be told.
                subscription.behind = False
                _drain(subscription)
                yield _format(broadcaster, Event(0, "resync", {}), {})
                continue
            if event is None:
                yield ": heartbeat\n\n"
                continue
            if subscription.audience.affected_by(event):
                subscription.audience = await broadcaster.audience(user)
                if not subscription.audience.active:
                    return
                continue
            text = _shown(broadcaster, subscription, event)
            if text:
                yield text
    finally:
        broadcaster.unsubscribe(subscription)


def _shown(broadcaster: Broadcaster, subscription: Subscription, event: Event) -> str | None:
    if event.kind == "access":
        return None  # handled by the stream itself
    if event.kind == "resync":
        return _format(broadcaster, event, {})
    data = subscription.audience.view(event)
    return None if data is None else _format(broadcaster, event, data)


def _format(broadcaster: Broadcaster, event: Event, data: dict) -> str:
    text = event.rendered(None if data is event.data else data)
    head = "" if event.kind == "resync" else f"id: {broadcaster.event_id(event)}\n"
    return f"{head}event: {event.kind}\ndata: {text}\n\n"


def _drain(subscription: Subscription) -> None:
    while not subscription.queue.empty():
        subscription.queue.get_nowait()
