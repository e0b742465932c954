"""API authentication: DRF's token authentication, with its one query compiled once per process."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import FieldDoesNotExist
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models.query import get_related_populators
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from movierec_site.postgresql.base import execute_prepared

# Stands for the key while the query is compiled; never sent to the database.
_KEY_PLACEHOLDER = "\x00token-key\x00"


@dataclass(frozen=True)
class _CompiledTokenQuery:
    sql: str
    columns: tuple[str, ...]  # each selected column's name, as the token's row shows them to an addition
    model_start: int
    model_end: int
    init_list: list[str]
    related_populators: list
    converters: dict


@functools.cache
def _compiled_token_query(alias: str) -> _CompiledTokenQuery:
    """`Token.objects.select_related("user").filter(key=...)`, compiled to SQL once.

    The ORM compiles a query afresh every time: for this one, on every token-authenticated request,
    ~0.2 ms of CPU (a fifth of the recommendations endpoint's), against ~0.05 ms to run it. The SQL
    and the column map are the ORM's own, so the rows become the same Token and User objects as
    DRF's `.get()` makes.
    """
    queryset = Token.objects.using(alias).select_related("user").filter(key=_KEY_PLACEHOLDER)
    compiler = queryset.query.get_compiler(alias)
    sql, params = compiler.as_sql()
    if tuple(params) != (_KEY_PLACEHOLDER,):  # the ORM changed how it compiles this: fail loudly
        raise RuntimeError(f"unexpected parameters for the token query: {params!r}")
    select, klass_info = compiler.select, compiler.klass_info
    start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
    return _CompiledTokenQuery(
        sql=sql,
        columns=tuple(column[0].target.column for column in select),
        model_start=start,
        model_end=end,
        init_list=[column[0].target.attname for column in select[start:end]],
        related_populators=get_related_populators(klass_info, select, alias),
        converters=compiler.get_converters([column[0] for column in select]),
    )


@dataclass(frozen=True)
class TokenQueryAddition:
    """What a view also wants read in the token's round trip (TokenAuthentication: the view's `token_query_addition`).

    `sql()`: a SELECT without parameters giving at most one row of `width` columns; it is joined LATERAL to the
    token's row, so it may refer to the token's user by `token_user_column("id")`, `token_user_column("taste_version")`
    (any column of the user model: read in the same snapshot as the user itself); `load(columns)` turns them
    (all None when it gives no row) into the value the token then carries as its attribute `attribute`. `sql()` is
    called on every request and may give another text as the process's state changes (each text is composed with
    the token's query once); return the same string object while nothing changed, and keep the texts few.
    """

    sql: Callable[[], str]
    width: int
    load: Callable[[tuple], object]
    attribute: str


def token_user_column(name: str, alias: str = DEFAULT_DB_ALIAS) -> str:
    """SQL naming the token's user's field `name` (a field of the user model) inside a TokenQueryAddition's sql.

    Raises LookupError when the token's query does not select it under a name of its own."""
    try:
        column = Token._meta.get_field("user").related_model._meta.get_field(name).column
    except FieldDoesNotExist as error:
        raise LookupError(f"the user model has no field {name!r}") from error
    if _compiled_token_query(alias).columns.count(column) != 1:
        raise LookupError(f"the token query has no column of its own for the user's {name!r}")
    return f"token.{connections[alias].ops.quote_name(column)}"


@functools.lru_cache(maxsize=64)
def _sql_with(alias: str, addition_sql: str) -> str:
    token_sql = _compiled_token_query(alias).sql
    # LATERAL: the addition may read the token's row (token_user_column).
    return f"SELECT token.*, addition.* FROM ({token_sql}) token LEFT JOIN LATERAL ({addition_sql}) addition ON TRUE"


def token_get_with_user(
    *, key: str, addition: TokenQueryAddition | None = None, alias: str = DEFAULT_DB_ALIAS
) -> Token | None:
    """The token with this key and its user (loaded in the same query), or None; with `addition`, what that reads
    too, in the same query, set on the token as `addition.attribute`."""
    query = _compiled_token_query(alias)
    connection = connections[alias]
    with connection.cursor() as cursor:
        execute_prepared(connection, cursor, query.sql if addition is None else _sql_with(alias, addition.sql()), [key])
        row = cursor.fetchone()
    if row is None:
        return None
    added = None if addition is None else addition.load(tuple(row[-addition.width :]))
    if query.converters:
        row = list(row)
        for position, (converters, expression) in query.converters.items():
            for converter in converters:
                row[position] = converter(row[position], expression, connection)
    token = Token.from_db(alias, query.init_list, row[query.model_start : query.model_end])
    for populator in query.related_populators:
        populator.populate(row, token)
    if addition is not None:
        setattr(token, addition.attribute, added)
    return token


class TokenAuthentication(authentication.TokenAuthentication):
    """`Authorization: Token <key>`, exactly as DRF's (same errors, same schema), with a precompiled query.

    Only the query differs: DRF runs `Token.objects.select_related("user").get(key=key)`, which the
    ORM compiles on every request; this runs the same SQL, compiled once (token_get_with_user). A view
    whose answer needs another small read in any case can name it as its `token_query_addition`
    (TokenQueryAddition): it is read in the token's round trip and carried by the token (`request.auth`).
    """

    addition: TokenQueryAddition | None = None

    def authenticate(self, request):
        # DRF makes the authenticators afresh for every request: this one's state is this request's.
        view = (request.parser_context or {}).get("view")
        self.addition = getattr(view, "token_query_addition", None)
        return super().authenticate(request)

    def authenticate_credentials(self, key):
        if self.get_model() is not Token:  # a subclass with another token model: DRF's own way
            return super().authenticate_credentials(key)
        token = token_get_with_user(key=key, addition=self.addition)
        if token is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        return (token.user, token)
