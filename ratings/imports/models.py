"""A ratings import: the uploaded file's rows as matched (the preview), then what applying it changed.

Registered in the ratings app (ratings/models.py imports this module). The preview is stored so
that confirming works across requests; once applied, each item keeps the rating it replaced
(or none), which is what "undo" restores.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Floor

from ratings.models import MAX_RATING, MIN_RATING

from . import formats, matching


def _half_steps(field: str) -> Q:
    return Q(**{f"{field}__isnull": True}) | (
        Q(**{f"{field}__gte": MIN_RATING}) & Q(**{f"{field}__lte": MAX_RATING}) & Q(**{field: Floor(F(field) * 2) / 2})
    )


class RatingImport(models.Model):
    class Status(models.TextChoices):
        PREVIEW = "preview", "Preview"
        APPLIED = "applied", "Applied"
        UNDONE = "undone", "Undone"

    class Format(models.TextChoices):
        IMDB = formats.IMDB, "IMDb"
        LETTERBOXD = formats.LETTERBOXD, "Letterboxd"
        TRAKT = formats.TRAKT, "Trakt"
        MOVIEREC = formats.MOVIEREC, "MovieRec"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="rating_imports")
    format = models.CharField(max_length=16, choices=Format.choices)
    filename = models.CharField(max_length=255, blank=True)
    encoding = models.CharField(max_length=16, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PREVIEW)
    created_at = models.DateTimeField(auto_now_add=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    undone_at = models.DateTimeField(null=True, blank=True)
    # What applying did, by outcome ({"created": 12, "updated": 3, …}); what undo did, likewise.
    applied_counts = models.JSONField(default=dict, blank=True)
    undone_counts = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"], name="ratings_import_user_created")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["preview", "applied", "undone"]), name="ratings_import_status_known"
            ),
            models.CheckConstraint(condition=Q(format__in=list(formats.FORMATS)), name="ratings_import_format_known"),
            models.CheckConstraint(
                condition=Q(status="preview") | Q(applied_at__isnull=False), name="ratings_import_applied_has_time"
            ),
            models.CheckConstraint(
                condition=~Q(status="undone") | Q(undone_at__isnull=False), name="ratings_import_undone_has_time"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_format_display()} import {self.pk} by {self.user_id} ({self.status})"


class RatingImportItem(models.Model):
    """One row of the file: how it matched and, once applied, what it did to the person's rating."""

    class Match(models.TextChoices):
        MATCHED = matching.MATCHED, "Matched"
        CHOOSE = matching.CHOOSE, "To choose"
        NOT_FOUND = matching.NOT_FOUND, "Not found"
        SKIPPED = matching.SKIPPED, "Skipped"

    class Outcome(models.TextChoices):
        NONE = "", "Not applied"
        CREATED = "created", "New rating"
        UPDATED = "updated", "Replaced your rating"
        KEPT = "kept", "Kept your rating"
        UNCHANGED = "unchanged", "Same as your rating"
        DUPLICATE = "duplicate", "Same movie as another row"
        LEFT_OUT = "left_out", "Left out"

    rating_import = models.ForeignKey(RatingImport, on_delete=models.CASCADE, related_name="items")
    line = models.PositiveIntegerField(help_text="Line of the file (CSV) or position in the list (JSON).")
    title = models.CharField(max_length=500, blank=True)
    year = models.PositiveSmallIntegerField(null=True, blank=True)
    source_id = models.CharField(max_length=32, blank=True, help_text="The file's id of the movie (IMDb, TMDB…).")
    value = models.DecimalField(max_digits=2, decimal_places=1, null=True, blank=True)
    rated_at = models.DateTimeField(null=True, blank=True)
    match = models.CharField(max_length=9, choices=Match.choices)
    reason = models.CharField(max_length=200, blank=True)
    # Matched (or, once applied, chosen) movie; candidates to choose from, or suggestions when not found.
    movie = models.ForeignKey("catalog.Movie", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    candidates = ArrayField(models.PositiveIntegerField(), default=list, blank=True)
    # Filled in when applied: the outcome, and the person's rating before it (none: previous_value null).
    outcome = models.CharField(max_length=9, choices=Outcome.choices, default="", blank=True)
    previous_value = models.DecimalField(max_digits=2, decimal_places=1, null=True, blank=True)
    previous_rated_at = models.DateTimeField(null=True, blank=True)
    was_on_wishlist = models.BooleanField(default=False)

    class Meta:
        ordering = ["rating_import", "line"]
        constraints = [
            models.UniqueConstraint(fields=["rating_import", "line"], name="ratings_importitem_unique_line"),
            models.CheckConstraint(condition=_half_steps("value"), name="ratings_importitem_value_half_steps"),
            models.CheckConstraint(
                condition=_half_steps("previous_value"), name="ratings_importitem_previous_half_steps"
            ),
            models.CheckConstraint(
                condition=Q(match__in=["matched", "choose", "not_found", "skipped"]),
                name="ratings_importitem_match_known",
            ),
            # A row that can be applied has a rating.
            models.CheckConstraint(
                condition=Q(match="skipped") | Q(value__isnull=False), name="ratings_importitem_value_unless_skipped"
            ),
            # The previous rating is all or nothing.
            models.CheckConstraint(
                condition=Q(previous_value__isnull=True, previous_rated_at__isnull=True)
                | Q(previous_value__isnull=False, previous_rated_at__isnull=False),
                name="ratings_importitem_previous_complete",
            ),
        ]

    def __str__(self) -> str:
        return f"line {self.line} of import {self.rating_import_id}: {self.title} ({self.match})"
