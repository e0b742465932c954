"""Writes for ratings imports: store a preview, apply it in one transaction, undo it.

Nothing touches the person's ratings before `rating_import_apply`. Applying writes every rating
in one statement (the taste_version triggers then make recommendations fresh at once) and keeps,
per row, the rating it replaced; `rating_import_undo` puts those back.
"""

from __future__ import annotations

import io
from collections import Counter
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from psycopg2.extras import execute_values

from catalog.models import Movie
from ratings.models import Rating, WishlistEntry

from . import formats, matching
from .models import RatingImport, RatingImportItem
from .selectors import CONFLICT_POLICIES, MINE, NEWEST, THEIRS, import_catalogue_index

# Previews nobody confirmed are removed when the same person uploads again after this long.
PREVIEW_KEEP = timedelta(days=7)
Outcome = RatingImportItem.Outcome
Match = RatingImportItem.Match


def _source_id(row: formats.ParsedRow) -> str:
    if row.imdb_id:
        return f"tt{row.imdb_id:07d}"
    if row.tmdb_id:
        return f"tmdb {row.tmdb_id}"
    if row.movie_id:
        return f"movie {row.movie_id}"
    return ""


def rating_import_preview(*, user, data: bytes, filename: str = "", format: str = formats.AUTO) -> RatingImport:  # noqa: A002
    """Read an uploaded ratings file and store how each row matched, for the person to check and confirm.

    `format` is one of formats.FORMATS or AUTO. Raises ValidationError (code "invalid_file") with the
    reason when the file cannot be imported; nothing is stored then. The person's ratings are not
    touched. The person's previews older than PREVIEW_KEEP are removed.
    """
    try:
        parsed = formats.parse(data, format=format)
    except formats.ImportFileError as exc:
        raise ValidationError(str(exc), code="invalid_file") from None
    index = import_catalogue_index()
    results = matching.match_rows(index, parsed.rows, parsed.format)
    with transaction.atomic():
        RatingImport.objects.filter(
            user=user, status=RatingImport.Status.PREVIEW, created_at__lt=timezone.now() - PREVIEW_KEEP
        ).delete()
        rating_import = RatingImport.objects.create(
            user=user, format=parsed.format, filename=filename[:255], encoding=parsed.encoding
        )
        _copy_items(
            (
                rating_import.pk, row.line, row.title, row.year, _source_id(row), row.value, row.rated_at,
                result.status, result.reason[:200], result.movie_id, list(result.candidates),
            )
            for row, result in zip(parsed.rows, results, strict=True)
        )  # fmt: skip
    return rating_import


ITEM_COLUMNS = (
    "rating_import_id", "line", "title", "year", "source_id", "value", "rated_at", "match", "reason", "movie_id",
    "candidates", "outcome", "was_on_wishlist",
)  # fmt: skip


def _copy_text(value) -> str:
    """One field of COPY's text format."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list):
        return "{" + ",".join(str(int(v)) for v in value) + "}"
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _copy_items(rows) -> None:
    """Store preview rows with COPY: the ORM's bulk_create spends seconds on 20,000 rows of 13 fields."""
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join(_copy_text(value) for value in (*row, "", False)))
        buffer.write("\n")
    buffer.seek(0)
    table = RatingImportItem._meta.db_table
    with connection.cursor() as cursor:
        cursor.copy_expert(f"COPY {table} ({', '.join(ITEM_COLUMNS)}) FROM STDIN", buffer)


UPDATE_ITEMS = """
UPDATE {table} AS item SET movie_id = v.movie_id, rated_at = v.rated_at, outcome = v.outcome,
    previous_value = v.previous_value, previous_rated_at = v.previous_rated_at, was_on_wishlist = v.was_on_wishlist
FROM (VALUES %s) AS v (id, movie_id, rated_at, outcome, previous_value, previous_rated_at, was_on_wishlist)
WHERE item.id = v.id
"""
UPDATE_ITEMS_ROW = "(%s::bigint, %s::integer, %s::timestamptz, %s::varchar, %s::numeric, %s::timestamptz, %s::boolean)"


def _update_items(items: list[RatingImportItem]) -> None:
    """Record what applying did to each row, in one UPDATE … FROM (VALUES …) per 2,000 rows
    (bulk_update's CASE expressions grow with the square of the rows)."""
    if not items:
        return
    values = [
        (i.pk, i.movie_id, i.rated_at, i.outcome, i.previous_value, i.previous_rated_at, i.was_on_wishlist)
        for i in items
    ]
    with connection.cursor() as cursor:
        execute_values(
            cursor.cursor,
            UPDATE_ITEMS.format(table=RatingImportItem._meta.db_table),
            values,
            template=UPDATE_ITEMS_ROW,
            page_size=2000,
        )


def _check_state(rating_import: RatingImport, expected: str, action: str) -> None:
    if rating_import.status != expected:
        raise ValidationError(
            f"This import is {rating_import.get_status_display().lower()}; only a {expected} import can be {action}.",
            code=f"not_{expected}",
        )


def rating_import_apply(
    *,
    rating_import: RatingImport,
    choices: dict[int, int | None] | None = None,
    conflict_policy: str = NEWEST,
    conflict_overrides: dict[int, str] | None = None,
) -> RatingImport:
    """Apply a previewed import to its owner's ratings, all or nothing.

    Rows applied: the matched ones, and the rows to choose or not found for which `choices`
    ({item id: movie id, or None to leave out}) names one of the row's candidates. A movie the
    person has already rated with another value follows `conflict_overrides` ({item id: "mine" |
    "theirs"}), else `conflict_policy`: "newest" (the default) takes the file's rating only when it
    is dated later than the person's, "mine" keeps the person's, "theirs" takes the file's. Ratings
    keep the file's dates (now when it has none, never later than now); rated movies leave the
    wishlist, as when rating on the site.

    Every row records its outcome and the rating it replaced. Raises ValidationError when the
    import is not a preview or a choice or override names a row or movie it cannot; nothing
    changes then.
    """
    choices = choices or {}
    conflict_overrides = conflict_overrides or {}
    if conflict_policy not in CONFLICT_POLICIES:
        raise ValidationError(f"Unknown conflict policy {conflict_policy!r}.", code="invalid")
    with transaction.atomic():
        rating_import = RatingImport.objects.select_for_update().get(pk=rating_import.pk)
        _check_state(rating_import, RatingImport.Status.PREVIEW, "confirmed")
        items = {
            item.pk: item
            for item in rating_import.items.filter(match__in=[Match.MATCHED, Match.CHOOSE, Match.NOT_FOUND])
        }
        _check_choices(items, choices, conflict_overrides)
        for item_id, movie_id in choices.items():
            items[item_id].movie_id = movie_id
        wanted = [item for item in items.values() if item.movie_id is not None]
        existing_movies = set(
            Movie.objects.filter(pk__in={item.movie_id for item in wanted}).values_list("pk", flat=True)
        )

        now = timezone.now()
        winners: dict[int, RatingImportItem] = {}
        changed: list[RatingImportItem] = []
        for item in sorted(wanted, key=lambda item: item.line):
            if item.movie_id not in existing_movies:
                item.outcome = Outcome.LEFT_OUT  # the movie was deleted since the preview
                changed.append(item)
                continue
            other = winners.get(item.movie_id)
            if other is None or _newer_or_same(item, other):
                if other is not None:
                    other.outcome = Outcome.DUPLICATE
                winners[item.movie_id] = item
            else:
                item.outcome = Outcome.DUPLICATE
            changed.append(item)

        user_id = rating_import.user_id
        mine = {
            movie_id: (value, rated_at)
            for movie_id, value, rated_at in Rating.objects.select_for_update()
            .filter(user_id=user_id, movie_id__in=list(winners))
            .values_list("movie_id", "value", "rated_at")
        }
        on_wishlist = set(
            WishlistEntry.objects.filter(user_id=user_id, movie_id__in=list(winners)).values_list("movie_id", flat=True)
        )
        writes: list[RatingImportItem] = []
        for movie_id, item in winners.items():
            dated = item.rated_at is not None
            item.rated_at = min(item.rated_at or now, now)
            previous = mine.get(movie_id)
            if previous is None:
                item.outcome = Outcome.CREATED
            elif previous[0] == item.value:
                item.outcome = Outcome.UNCHANGED
            else:
                decision = conflict_overrides.get(item.pk, conflict_policy)
                if decision == NEWEST:
                    # A row without a date cannot be shown to be newer: the person's rating stays.
                    decision = THEIRS if dated and item.rated_at > previous[1] else MINE
                item.outcome = Outcome.UPDATED if decision == THEIRS else Outcome.KEPT
            if item.outcome in (Outcome.CREATED, Outcome.UPDATED):
                item.previous_value, item.previous_rated_at = previous or (None, None)
                item.was_on_wishlist = movie_id in on_wishlist
                writes.append(item)

        Rating.objects.bulk_create(
            [
                Rating(user_id=user_id, movie_id=item.movie_id, value=item.value, rated_at=item.rated_at)
                for item in writes
            ],
            update_conflicts=True,
            unique_fields=["user", "movie"],
            update_fields=["value", "rated_at"],
            batch_size=5000,
        )
        WishlistEntry.objects.filter(
            user_id=user_id, movie_id__in=[item.movie_id for item in writes if item.was_on_wishlist]
        ).delete()
        _update_items(changed)
        rating_import.status = RatingImport.Status.APPLIED
        rating_import.applied_at = now
        rating_import.applied_counts = dict(Counter(item.outcome for item in changed))
        rating_import.save(update_fields=["status", "applied_at", "applied_counts"])
    return rating_import


def _check_choices(items: dict[int, RatingImportItem], choices: dict, overrides: dict) -> None:
    errors: list[str] = []
    for item_id, movie_id in choices.items():
        item = items.get(item_id)
        if item is None or item.match == Match.MATCHED:
            errors.append(f"Row {item_id} is not a row of this import to choose a movie for.")
        elif movie_id is not None and movie_id not in item.candidates:
            errors.append(f"Movie {movie_id} is not one of the movies offered for line {item.line}.")
    for item_id, side in overrides.items():
        if side not in (MINE, THEIRS):
            errors.append(f"Keep {side!r}? Say {MINE!r} or {THEIRS!r}.")
        elif item_id not in items:
            errors.append(f"Row {item_id} is not a row of this import.")
    if errors:
        raise ValidationError(errors, code="invalid_choice")


def _newer_or_same(item: RatingImportItem, other: RatingImportItem) -> bool:
    if item.rated_at is None or other.rated_at is None:
        return True
    return item.rated_at >= other.rated_at


def rating_import_undo(*, rating_import: RatingImport) -> RatingImport:
    """Undo an applied import: remove the ratings it added, put back the ones it replaced, all at once.

    A rating the person changed after the import (another value or date) is left as it is now and
    counted as "changed_since". Movies the import took off the wishlist go back on it. Raises
    ValidationError when the import is not applied.
    """
    with transaction.atomic():
        rating_import = RatingImport.objects.select_for_update().get(pk=rating_import.pk)
        _check_state(rating_import, RatingImport.Status.APPLIED, "undone")
        items = list(rating_import.items.filter(outcome__in=[Outcome.CREATED, Outcome.UPDATED], movie__isnull=False))
        user_id = rating_import.user_id
        now_rated = {
            movie_id: (value, rated_at)
            for movie_id, value, rated_at in Rating.objects.select_for_update()
            .filter(user_id=user_id, movie_id__in=[item.movie_id for item in items])
            .values_list("movie_id", "value", "rated_at")
        }
        remove, restore, counts = [], [], Counter()
        for item in items:
            if now_rated.get(item.movie_id) != (item.value, item.rated_at):
                counts["changed_since"] += 1
            elif item.outcome == Outcome.CREATED:
                remove.append(item)
            else:
                restore.append(item)
        Rating.objects.filter(user_id=user_id, movie_id__in=[item.movie_id for item in remove]).delete()
        Rating.objects.bulk_create(
            [
                Rating(
                    user_id=user_id, movie_id=item.movie_id, value=item.previous_value, rated_at=item.previous_rated_at
                )
                for item in restore
            ],
            update_conflicts=True,
            unique_fields=["user", "movie"],
            update_fields=["value", "rated_at"],
            batch_size=5000,
        )
        WishlistEntry.objects.bulk_create(
            [
                WishlistEntry(user_id=user_id, movie_id=item.movie_id)
                for item in remove + restore
                if item.was_on_wishlist
            ],
            ignore_conflicts=True,
        )
        counts["removed"], counts["restored"] = len(remove), len(restore)
        rating_import.status = RatingImport.Status.UNDONE
        rating_import.undone_at = timezone.now()
        rating_import.undone_counts = dict(counts)
        rating_import.save(update_fields=["status", "undone_at", "undone_counts"])
    return rating_import


def rating_import_discard(*, rating_import: RatingImport) -> None:
    """Delete a preview nobody wants to apply. Raises ValidationError for an applied or undone import."""
    with transaction.atomic():
        rating_import = RatingImport.objects.select_for_update().get(pk=rating_import.pk)
        _check_state(rating_import, RatingImport.Status.PREVIEW, "discarded")
        rating_import.delete()
