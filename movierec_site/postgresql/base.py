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

It also keeps server-side prepared statements per connection for the hottest queries (`execute_prepared`).
"""

from __future__ import annotations

import itertools
import select
from collections import OrderedDict
from collections.abc import Sequence

from django.conf import settings
from django.db import DatabaseError
from django.db.backends.postgresql import base
from psycopg2.errors import InvalidSqlStatementName

# Prepared statements kept per connection (the least recently used is deallocated beyond this): a statement whose text
# changes with the process's state (the token query's addition) leaves its older texts behind.
PREPARED_PER_CONNECTION = 8
# Statement names are unique within the process, not per connection: a session can outlive its wrapper's record of
# what it prepared (the full test suite on the embedded server hit `prepared statement "movierec_1" already exists`
# with per-connection numbering), and a name never reused cannot collide with one the session still holds.
_statement_numbers = itertools.count(1)


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params):
        connection = super().get_new_connection(conn_params)
        # SQL text -> name of the statement prepared on this very server session (a new connection has none).
        self.prepared_statements: OrderedDict[str, str] = OrderedDict()
        return connection

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


def execute_prepared(connection, cursor, sql: str, params: Sequence) -> None:
    """`cursor.execute(sql, params)` as a server-side prepared statement of the connection's session: PostgreSQL parses
    and plans the text once per connection (then, after five runs, keeps a generic plan) instead of on every call.

    For the few queries every request runs (the API's token query: planning it took 0.07-0.3 ms of the server's CPU,
    two to three times running it; bench/bench_api.py). The first call on a connection prepares and executes in one
    round trip; later calls send `EXECUTE name(params)`. `sql` takes `%s` placeholders only, whose parameters
    PostgreSQL types from their use. Off (a plain execute) with DATABASE_PREPARED_STATEMENTS=0, as a transaction-mode
    connection pooler (PgBouncer) needs, for other backends, and for SQL with any other `%`. A statement survives a
    rollback; a session that lost its statements (`DISCARD ALL`) fails that one query and prepares again on the next;
    a schema change that alters a statement's result columns makes PostgreSQL refuse it until the process restarts
    (as its compiled queries would be stale anyway: deploys restart).
    """
    statements = getattr(connection, "prepared_statements", None)
    if statements is None or not settings.DATABASE_PREPARED_STATEMENTS or "%" in sql.replace("%s", ""):
        cursor.execute(sql, params)
        return
    placeholders = ", ".join(["%s"] * len(params))
    name = statements.get(sql)
    if name is not None:
        statements.move_to_end(sql)
        try:
            cursor.execute(f"EXECUTE {name}({placeholders})" if params else f"EXECUTE {name}", params)
        except DatabaseError as error:
            if isinstance(error.__cause__, InvalidSqlStatementName):  # the session lost it (DEALLOCATE/DISCARD ALL)
                statements.clear()  # prepared again on the next call
            raise
        return
    pieces = sql.split("%s")
    if len(pieces) - 1 != len(params):
        raise ValueError(f"{len(params)} parameters for {len(pieces) - 1} placeholders")
    body = pieces[0] + "".join(f"${number}{piece}" for number, piece in enumerate(pieces[1:], start=1))
    name = f"movierec_{next(_statement_numbers)}"
    evict = ""
    if len(statements) >= PREPARED_PER_CONNECTION:
        _, oldest = statements.popitem(last=False)
        evict = f"DEALLOCATE {oldest}; "
    # One round trip: the statements run in order, the cursor holds the last one's rows.
    cursor.execute(
        f"{evict}PREPARE {name} AS {body}; " + (f"EXECUTE {name}({placeholders})" if params else f"EXECUTE {name}"),
        params,
    )
    statements[sql] = name
