"""REST API for the catalogue: movies (browse and search, details) and genres.

Interfaces only: each class parses its input with a nested serializer, calls one selector of
catalog.selectors and renders. Movies are public (anonymous clients are throttled harder).
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from movierec_site.api import ApiPagination, QueryIntegerField, RoundedFloatField, api_url, query_params

from .models import MAX_MOVIE_ID, Genre, Movie
from .selectors import (
    FIRST_DECADE,
    MOVIE_SORTS,
    MovieFilters,
    genre_list,
    movie_get,
    movie_in_bulk,
    movie_search,
    tag_counts_for_movie,
)

# Primary keys are PostgreSQL integers; a larger id in a URL cannot name a row (and must not reach SQL).
MAX_MIN_RATINGS = 1_000_000
MOVIE_TAGS_SHOWN = 10


def movie_or_404(movie_id: int, *, with_genres: bool = True) -> Movie:
    """The movie (with its genres prefetched unless `with_genres` is False), or NotFound (also for ids
    no movie can have)."""
    if not 0 < movie_id <= MAX_MOVIE_ID:
        movie = None
    elif with_genres:
        movie = movie_get(movie_id=movie_id)
    else:
        movie = movie_in_bulk(movie_ids=[movie_id]).get(movie_id)
    if movie is None:
        raise NotFound(f"There is no movie with id {movie_id}.")
    return movie


class GenreField(serializers.CharField):
    """A genre given by name, case-insensitively ("comedy" finds "Comedy").

    An unknown name is no error: it filters like a genre no movie has, so the list is empty (a 200). Genres
    are data, so the schema declares a plain string; GET /api/v1/genres/ lists the names that match.
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 64)
        super().__init__(**kwargs)

    def run_validation(self, data=serializers.empty) -> Genre | None:
        name = (super().run_validation(data) or "").strip()
        if not name:
            return None
        genre = Genre.objects.filter(name__iexact=name).first()
        # Genre ids start at 1: an unsaved genre with id 0 matches no movie in any filter.
        return genre if genre is not None else Genre(pk=0, name=name)


RATING_MEAN_DECIMALS = 2


class MovieSummarySerializer(serializers.Serializer):
    """A movie as it appears in lists (genres must be prefetched), with a link to it (the request in the context
    makes it absolute)."""

    class Meta:
        ref_name = "MovieSummary"

    id = serializers.IntegerField()
    url = serializers.SerializerMethodField(help_text="The movie in this API.")
    title = serializers.CharField()
    year = serializers.IntegerField(allow_null=True)
    genres = serializers.SerializerMethodField()
    rating_count = serializers.IntegerField(help_text="Number of ratings.")
    rating_mean = RoundedFloatField(
        decimals=RATING_MEAN_DECIMALS, allow_null=True, help_text="Average rating (0.5 to 5), to 2 decimals."
    )

    def get_genres(self, movie: Movie) -> list[str]:
        return [genre.name for genre in movie.genres.all()]

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, movie: Movie) -> str:
        return api_url(self.context.get("request"), "movie_detail", movie.pk)


# movie id -> (the Movie it was built from, movies_url, its summary): movie_summary_cached.
_summaries: dict[int, tuple[Movie, str, dict]] = {}
SUMMARY_CACHE_MAX = 100_000


def movie_summary_cached(movie: Movie, *, movies_url: str) -> dict:
    """movie_summary, built once per Movie object and movies_url in the process and shared: never modify it.

    For movies from the per-process movie cache (movie_in_bulk_cached): the summary is as fresh as the Movie it is
    given, since a Movie reloaded from the database is another object. Building the 20 summaries of a
    recommendations answer took ~0.08 ms of each request.
    """
    hit = _summaries.get(movie.pk)
    if hit is not None and hit[0] is movie and hit[1] == movies_url:
        return hit[2]
    summary = movie_summary(movie, movies_url=movies_url)
    if len(_summaries) >= SUMMARY_CACHE_MAX:
        _summaries.clear()
    _summaries[movie.pk] = (movie, movies_url, summary)
    return summary


def movie_summary(movie: Movie, *, movies_url: str) -> dict:
    """What MovieSummarySerializer renders, built directly: the hot recommendations path skips DRF's field machinery.

    `movies_url` is the movie list's URL (api_url(request, "movie_list")), to which a movie's id and a slash are added.
    """
    return {
        "id": movie.pk,
        "url": f"{movies_url}{movie.pk}/",
        "title": movie.title,
        "year": movie.year,
        "genres": list(movie.genre_names),
        "rating_count": movie.rating_count,
        "rating_mean": None if movie.rating_mean is None else round(movie.rating_mean, RATING_MEAN_DECIMALS),
    }


class GenreListApi(APIView):
    """The genres movies are filed under: the names the `genre` filters take."""

    permission_classes = [AllowAny]
    name = "Genres"

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        name = serializers.CharField()

        class Meta:
            ref_name = "Genre"

    @extend_schema(operation_id="genres_list", responses=OutputSerializer(many=True), tags=["movies"])
    def get(self, request):
        """All genres, by name: the values the `genre` filters match (any other name matches no movie)."""
        return Response(self.OutputSerializer(genre_list(), many=True).data)


class MovieListApi(ListAPIView):
    """The catalogue: browse and search every movie, by title words, genre, decade and number of ratings.

    Each movie links to its page here, which links on to similar movies and to your predicted rating.
    """

    permission_classes = [AllowAny]
    name = "Movies"
    pagination_class = ApiPagination
    serializer_class = MovieSummarySerializer

    class FilterSerializer(serializers.Serializer):
        class Meta:
            ref_name = "MovieFilters"

        search = serializers.CharField(
            required=False, allow_blank=True, max_length=200, help_text="Words that must all appear in the title."
        )
        genre = GenreField(
            required=False, allow_blank=True, help_text="Genre name, e.g. Comedy; an unknown name matches no movie."
        )
        decade = QueryIntegerField(
            required=False, min_value=FIRST_DECADE, max_value=9990, help_text="First year of a decade, e.g. 1990."
        )
        sort = serializers.ChoiceField(choices=list(MOVIE_SORTS), required=False, default="popular")
        min_ratings = QueryIntegerField(
            required=False, min_value=0, max_value=MAX_MIN_RATINGS, help_text="Only movies with this many ratings."
        )

        def validate_decade(self, value: int) -> int:
            if value % 10:
                raise serializers.ValidationError("A decade is a year ending in 0, such as 1990.")
            if value > timezone.now().year:
                raise serializers.ValidationError("That decade has not started yet.")
            return value

    @extend_schema(operation_id="movies_list", parameters=[FilterSerializer], tags=["movies"])
    def get(self, request, *args, **kwargs):
        """Browse and search the catalogue, paginated; most rated first unless `sort` says otherwise."""
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        params = self.FilterSerializer(data=query_params(self.request))
        params.is_valid(raise_exception=True)
        return self.movies(params.validated_data)

    def movies(self, data: dict) -> QuerySet[Movie]:
        """The movies the validated filters select; a subclass with more filters narrows them further."""
        filters = MovieFilters(
            query=data.get("search", "").strip(),
            genre=data.get("genre"),
            decade=data.get("decade"),
            sort=data["sort"],
            min_ratings=data.get("min_ratings"),
        )
        return movie_search(filters=filters)


class MovieDetailApi(APIView):
    """One movie: its average rating, genres and tags, and links on: to similar movies, to the rating the
    recommender predicts you would give it, and to your own rating of it (where you rate it, change it or
    remove it)."""

    permission_classes = [AllowAny]
    name = "Movie"

    class OutputSerializer(MovieSummarySerializer):
        class Meta:
            ref_name = "MovieDetail"

        class LinksSerializer(serializers.Serializer):
            class Meta:
                ref_name = "MovieLinks"

            movielens = serializers.URLField()
            imdb = serializers.URLField(allow_blank=True)
            tmdb = serializers.URLField(allow_blank=True)

        class TagSerializer(serializers.Serializer):
            class Meta:
                ref_name = "MovieTag"

            tag = serializers.CharField()
            count = serializers.IntegerField()

        imdb_id = serializers.CharField(allow_blank=True)
        tmdb_id = serializers.IntegerField(allow_null=True)
        links = serializers.SerializerMethodField()
        tags = serializers.SerializerMethodField()
        similar_url = serializers.SerializerMethodField(help_text="The movies most like this one.")
        prediction_url = serializers.SerializerMethodField(
            help_text="The rating the recommender predicts you would give it (signed in)."
        )
        rating_url = serializers.SerializerMethodField(
            help_text="Your rating of it (signed in): GET it (404 until you rate), PUT to rate, DELETE to remove."
        )

        @extend_schema_field(OpenApiTypes.URI)
        def get_similar_url(self, movie: Movie) -> str:
            return api_url(self.context.get("request"), "movie_similar", movie.pk)

        @extend_schema_field(OpenApiTypes.URI)
        def get_prediction_url(self, movie: Movie) -> str:
            return api_url(self.context.get("request"), "my_prediction", movie.pk)

        @extend_schema_field(OpenApiTypes.URI)
        def get_rating_url(self, movie: Movie) -> str:
            return api_url(self.context.get("request"), "my_rating_detail", movie.pk)

        @extend_schema_field(LinksSerializer)
        def get_links(self, movie: Movie) -> dict:
            return {
                "movielens": f"https://movielens.org/movies/{movie.pk}",
                "imdb": movie.imdb_url,
                "tmdb": movie.tmdb_url,
            }

        @extend_schema_field(TagSerializer(many=True))
        def get_tags(self, movie: Movie) -> list[dict]:
            return [
                {"tag": text, "count": count}
                for text, count in tag_counts_for_movie(movie=movie, limit=MOVIE_TAGS_SHOWN)
            ]

    @extend_schema(operation_id="movies_retrieve", responses=OutputSerializer, tags=["movies"])
    def get(self, request, movie_id: int):
        """One movie: average rating and number of ratings, genres, most used tags, IMDb and TMDb links."""
        return Response(self.OutputSerializer(movie_or_404(movie_id), context={"request": request}).data)
