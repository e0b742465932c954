from functools import cached_property

from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower


class Genre(models.Model):
    name = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class MovieQuerySet(models.QuerySet):
    def with_genres(self):
        return self.prefetch_related("genres")


class Movie(models.Model):
    """A film of the catalogue; its primary key is the MovieLens movieId.

    `rating_count` and `rating_mean` are denormalised from ratings (refreshed by
    `ratings.services.movie_stats_refresh`) so browse pages can sort the whole catalogue by
    popularity without aggregating millions of ratings per request.
    """

    id = models.PositiveIntegerField(primary_key=True, verbose_name="MovieLens movieId")
    title = models.CharField(max_length=500)
    year = models.PositiveSmallIntegerField(null=True, blank=True, db_index=True)
    genres = models.ManyToManyField(Genre, related_name="movies", blank=True)
    imdb_id = models.CharField(max_length=16, blank=True, default="", help_text="Digits of the IMDb id, without 'tt'.")
    tmdb_id = models.PositiveIntegerField(null=True, blank=True)
    rating_count = models.PositiveIntegerField(default=0, db_index=True)
    rating_mean = models.FloatField(null=True, blank=True)

    objects = MovieQuerySet.as_manager()

    class Meta:
        ordering = ["title"]
        indexes = [
            # Case-insensitive title search and prefix lookups.
            models.Index(Lower("title"), name="catalog_movie_title_lower"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(year__isnull=True) | Q(year__gte=1800), name="catalog_movie_year_sane"),
        ]

    def __str__(self) -> str:
        return self.title

    @cached_property
    def genre_names(self) -> tuple[str, ...]:
        """The genres' names (the prefetched ones when prefetched), worked out once per object.

        Movies in the per-process cache (catalog.selectors.movie_in_bulk_cached) serve many requests:
        going through the related manager for every card cost ~5 µs a movie on the API's hot path.
        """
        return tuple(genre.name for genre in self.genres.all())

    @property
    def imdb_url(self) -> str:
        return f"https://www.imdb.com/title/tt{self.imdb_id}/" if self.imdb_id else ""

    @property
    def tmdb_url(self) -> str:
        return f"https://www.themoviedb.org/movie/{self.tmdb_id}" if self.tmdb_id else ""


class Tag(models.Model):
    """One tag application: a user tagged a movie at a time (MovieLens tags.csv)."""

    movie = models.ForeignKey(Movie, on_delete=models.CASCADE, related_name="tags")
    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="tags")
    tag = models.CharField(max_length=255)
    tagged_at = models.DateTimeField()

    class Meta:
        ordering = ["movie_id", "tagged_at"]
        constraints = [
            models.UniqueConstraint(fields=["user", "movie", "tag"], name="catalog_tag_unique_user_movie_tag"),
        ]

    def __str__(self) -> str:
        return self.tag
