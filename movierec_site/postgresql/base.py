"""Django's PostgreSQL backend, with a health check of a reused connection that costs no round trip.

With CONN_HEALTH_CHECKS Django checks a persistent connection before each request's first query by
sending `SELECT 1`: a whole round trip to the server on every request, which for the API's token
lookup doubled the queries (bench/bench_api.py). A connection the server has ended (a restart, a
failover, pg_terminate_backend) has something to read before we ask anything: the server's FATAL
message, or the end of the stream. So the check first asks the operating system, without waiting,
whether the idle connection's socket is readable; only then does it run Django's own check
(`SELECT 1`, which closes a dead connection so the query that follows opens a new one). A quiet
socket is a live connection as far as can be known without asking the server; a connection that dies
without a word (a network cut) fails its first query as before (503, movierec_site.api_errors) and is
dropped at the end of that request.
"""

from __future__ import annotations

import select

from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    def close_if_health_check_failed(self):
        if (
            self.connection is not None
            and self.health_check_enabled
            and not self.health_check_done
            and not self.pool
            and not self._socket_has_input()
        ):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()

    def _socket_has_input(self) -> bool:
        """Whether the idle connection's socket has anything to read (or is in error): then ask the server."""
        try:
            poller = select.poll()  # not select.select: no limit on the descriptor's number
            poller.register(self.connection.fileno(), select.POLLIN | select.POLLPRI)
            return bool(poller.poll(0))
        except Exception:  # a closed connection, no descriptor: let Django's check decide
            return True
