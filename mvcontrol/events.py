"""Publishing a change to every web process: PostgreSQL NOTIFY, sent once the change commits.

    publish("routing", routes=[{"output": 3, "input": 7}])
    publish("multiviewer", multiviewer=5)

Whatever changes what operators see — a web worker's write, a django-q2 refresh, quartz_listen,
nexx_listen, a management command — calls publish() where it records the change. The message
leaves after the surrounding transaction commits (at once outside one), so a change rolled back
is never announced and a listener that reads the database after the message sees the change.
Every web process LISTENs on CHANNEL and pushes what its users may see (live/).

Messages stay small: they name what changed (a multiviewer's id, routes, a run), and a listener
reads back what is too large to carry (a multiviewer's document). PostgreSQL refuses payloads of
8000 bytes or more; publish() splits a long list of routes into several messages.
"""

from __future__ import annotations

import json
import logging

from django.core.serializers.json import DjangoJSONEncoder
from django.db import DatabaseError, connection, transaction

logger = logging.getLogger(__name__)

CHANNEL = "mvcontrol_events"
MAX_PAYLOAD = 7900  # bytes; PostgreSQL's limit is 8000
ROUTES_PER_MESSAGE = 100


def publish(kind: str, **data) -> None:
    """Announce a change of `kind` to every web process once the current transaction commits."""
    messages = _messages(kind, data)
    transaction.on_commit(lambda: _notify(messages), robust=True)


def _messages(kind: str, data: dict) -> list[str]:
    routes = data.get("routes")
    if kind == "routing" and routes is not None and len(routes) > ROUTES_PER_MESSAGE:
        return [m for start in range(0, len(routes), ROUTES_PER_MESSAGE)
                for m in _messages(kind, {**data,
                                          "routes": routes[start:start + ROUTES_PER_MESSAGE]})]
    text = json.dumps({"kind": kind, **data}, cls=DjangoJSONEncoder, separators=(",", ":"))
    if len(text.encode()) > MAX_PAYLOAD:
        raise ValueError(f"a {kind} message of {len(text.encode())} bytes is too large to "
                         "publish: name what changed and let the listener read it")
    return [text]


def _notify(messages: list[str]) -> None:
    try:
        with connection.cursor() as cursor:
            for text in messages:
                cursor.execute("SELECT pg_notify(%s, %s)", [CHANNEL, text])
    except DatabaseError as exc:
        # The change itself is committed; the live pages catch up on their next reconnect or
        # read. Never fail the caller's request for it.
        logger.warning("Could not publish a change to the live pages (%s).",
                       type(exc).__name__)
