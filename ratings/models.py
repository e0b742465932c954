from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Floor

MIN_RATING = Decimal("0.5")
MAX_RATING = Decimal("5.0")
RATING_CHOICES = [(Decimal(n) / 2, f"{Decimal(n) / 2}") for n in range(1, 11)]


def validate_rating_value(value) -> None:
    """Reject anything but 0.5 .. 5.0 in half steps, with a message a person understands."""
    try:
        value = Decimal(str(value))
    except Exception as exc:
        raise ValidationError("A rating must be a number from 0.5 to 5 in half stars.", code="invalid") from exc
    if not value.is_finite() or value < MIN_RATING or value > MAX_RATING or (value * 2) % 1 != 0:
        raise ValidationError(
            "%(value)s is not a valid rating: use 0.5 to 5 stars in half steps (0.5, 1, 1.5, ... 5).",
            code="invalid_rating",
            params={"value": value},
        )


class Rating(models.Model):
    # No separate user index: the unique (user, movie) constraint leads with user_id.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="ratings", db_index=False)
    movie = models.ForeignKey("catalog.Movie", on_delete=models.CASCADE, related_name="ratings")
    value = models.DecimalField(max_digits=2, decimal_places=1, validators=[validate_rating_value])
    rated_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            # Also serves "ratings by user" lookups (user_id is its leading column).
            models.UniqueConstraint(fields=["user", "movie"], name="ratings_rating_unique_user_movie"),
            models.CheckConstraint(
                condition=Q(value__gte=MIN_RATING) & Q(value__lte=MAX_RATING) & Q(value=Floor(F("value") * 2) / 2),
                name="ratings_rating_value_half_steps",
                violation_error_message="A rating must be 0.5 to 5 stars in half steps.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} rated {self.movie_id}: {self.value}"


class WishlistEntry(models.Model):
    """A movie the user wants to watch; rating the movie takes it off the list."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="wishlist_entries", db_index=False
    )
    movie = models.ForeignKey("catalog.Movie", on_delete=models.CASCADE, related_name="+")
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "movie"], name="ratings_wishlist_unique_user_movie"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} wants to watch {self.movie_id}"


class NotInterested(models.Model):
    """A movie the user asked never to be recommended again."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="not_interested", db_index=False
    )
    movie = models.ForeignKey("catalog.Movie", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "not interested"
        verbose_name_plural = "not interested"
        constraints = [
            models.UniqueConstraint(fields=["user", "movie"], name="ratings_notinterested_unique_user_movie"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} is not interested in {self.movie_id}"


# Ratings imports (ratings/imports/): their models belong to this app.
from .imports.models import RatingImport, RatingImportItem  # noqa: E402, F401
