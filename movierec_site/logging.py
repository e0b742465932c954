"""Context for log lines: a request id on every line of a request, a run id on every line of a retrain.

`log_context(**fields)` puts fields into a context variable for the duration of a `with` block;
`ContextFilter`, attached to the log handlers in settings.LOGGING, copies them onto every record
that passes. The JSON formatter (production) writes them as top-level keys; the text formatter
(development) shows them in brackets after the logger name. Context variables follow the thread
(and asyncio task), so concurrent requests in a threaded server never see each other's ids.

A base module (it imports no app): ops.middleware sets the request id, spark_engine.pipeline the run id.
"""

from __future__ import annotations

import contextlib
import logging
import re
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from types import MappingProxyType
from typing import Any

_context: ContextVar[MappingProxyType] = ContextVar("log_context", default=MappingProxyType({}))

# A client-supplied X-Request-ID is kept only if it looks like an id: it ends up in every log
# line and in a response header, so no spaces, quotes, control characters or megabyte strings.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


@contextlib.contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Add `fields` to every log line emitted inside the block (nested blocks add to the outer ones).

    `with log_context(run_id=run.pk): ...` makes each line of a retrain carry `run_id`. The previous
    context is restored on exit, exceptions included.
    """
    token = _context.set(MappingProxyType({**_context.get(), **fields}))
    try:
        yield
    finally:
        _context.reset(token)


def current_log_context() -> dict[str, Any]:
    return dict(_context.get())


def request_id_from_header(value: str | None) -> str:
    """The client's X-Request-ID if it is a sane id, else a fresh random one."""
    if value and _SANE_REQUEST_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


class ContextFilter(logging.Filter):
    """Copies the current log context onto each record; never drops a record.

    Each field becomes a record attribute (so the JSON formatter writes it as a key), and
    `record.context` holds them as ` [key=value ...]` for the text formatter ('' when empty).
    A field never overwrites an attribute the record already has (a logger's own `extra=`).
    `request_id` also comes from a Django request passed as `extra={"request": ...}`.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        fields = _context.get()
        # Django logs a request's 4xx/5xx status line after the middleware returned, outside the
        # request's context, but passes the request along: take its id from there.
        request_id = getattr(getattr(record, "request", None), "request_id", None)
        if request_id is not None and "request_id" not in fields:
            fields = {**fields, "request_id": request_id}
        for key, value in fields.items():
            if not hasattr(record, key):
                setattr(record, key, value)
        record.context = (" [" + " ".join(f"{k}={v}" for k, v in fields.items()) + "]") if fields else ""
        return True
