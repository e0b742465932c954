from functools import cached_property

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Func, Q
from django.db.models.functions import Lower

from .titles import natural_title

# Movie ids are PostgreSQL integers (MovieLens movieIds, and ids staff give in the admin).
MAX_MOVIE_ID = 2**31 - 1


class Fold(Func):
    """movierec_fold(text): lower case, accents removed (SQL function from catalog migration 0002)."""

    function = "movierec_fold"
    output_field = models.CharField()


class Genre(models.Model):
    name = models.CharField(max_length=64, unique=True)
    # How many movies have the genre, kept by database triggers on the movies' genres (catalog migration 0006) in
    # the transaction of every change, whoever makes it (admin, importer, raw SQL): browse by genre shows it instead
    # of counting the genre's movies on every page (a join of up to 20,000 rows at 59,047 movies).
    movie_count = models.IntegerField(db_default=0, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class MovieQuerySet(models.QuerySet):
    def with_genres(self):
        # Everything a movie card shows: genres, and the poster from the TMDB details (a join, not a query).
        return self.prefetch_related("genres").select_related("details")


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
    # The title as search compares it (movierec_fold: lower case, no accents), kept by PostgreSQL itself on every
    # write, whoever makes it (ORM, importer, raw SQL). Folding at query time cost ~50 µs a title: 3 s for a search
    # of the 59,047-movie catalogue, counted twice per page. Migration 0004 adds a trigram index where pg_trgm exists.
    title_folded = models.GeneratedField(
        expression=Fold("title"), output_field=models.CharField(max_length=500), db_persist=True, editable=False
    )
    # Bumped by database triggers (ratings migration 0005) in the transaction of any change to the movie's
    # ratings, by every writer: a cache keyed by it (the item fold-in, recommendations.cold_items) is never stale.
    rating_version = models.BigIntegerField(db_default=0, editable=False)

    objects = MovieQuerySet.as_manager()

    class Meta:
        ordering = ["title"]
        indexes = [
            # Case-insensitive title search and prefix lookups.
            models.Index(Lower("title"), name="catalog_movie_title_lower"),
            # One per browse order (catalog.selectors.MOVIE_SORTS, same columns, directions and NULLS placement), so
            # a page of the sorted catalogue is read off an index instead of sorting every matching movie.
            models.Index(F("rating_count").desc(), F("title"), F("id"), name="catalog_movie_sort_popular"),
            models.Index(
                F("rating_mean").desc(nulls_last=True),
                F("rating_count").desc(),
                F("id"),
                name="catalog_movie_sort_rating",
            ),
            models.Index(
                F("year").desc(nulls_last=True), F("rating_count").desc(), F("id"), name="catalog_movie_sort_newest"
            ),
            models.Index(
                F("year").asc(nulls_last=True), F("rating_count").desc(), F("id"), name="catalog_movie_sort_oldest"
            ),
            models.Index(F("title"), F("id"), name="catalog_movie_sort_title"),
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

    @cached_property
    def natural_title(self) -> str:
        """The title as people read it: "The Matrix (1999)" for MovieLens' "Matrix, The (1999)".

        Pages show this; search and the importers match both forms."""
        return natural_title(self.title)

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


class MovieDetails(models.Model):
    """What TMDB said about a movie the last time we asked (catalog.enrichment): a cache, not the source of truth.

    `tmdb_id` is the id that was asked for; when the movie's own id changes the row is stale. A `not_found` or
    `error` row remembers the attempt so a batch does not ask again too soon.
    """

    class Status(models.TextChoices):
        OK = "ok"
        NOT_FOUND = "not_found", "not found"
        ERROR = "error"

    movie = models.OneToOneField(Movie, on_delete=models.CASCADE, primary_key=True, related_name="details")
    tmdb_id = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices)
    fetched_at = models.DateTimeField(db_index=True)
    poster_path = models.CharField(max_length=255, blank=True, default="")
    overview = models.TextField(blank=True, default="")
    runtime = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Minutes.")
    directors = ArrayField(models.CharField(max_length=255), blank=True, default=list)
    cast = ArrayField(models.CharField(max_length=255), blank=True, default=list, help_text="Top billed, in order.")
    error = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        verbose_name = "TMDB details"
        verbose_name_plural = "TMDB details"

    def __str__(self) -> str:
        return f"TMDB {self.tmdb_id} for movie {self.movie_id}: {self.status}"
