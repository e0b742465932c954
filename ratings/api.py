"""REST API for the signed-in user's own ratings: list, rate, re-rate, unrate, and rate many at once.

Every path is under /me/: there is no way to name another user's rating, so another user's
ratings are simply not found. Writes go through ratings.services (the same validation as the site).
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.api import MAX_MOVIE_ID, movie_or_404
from catalog.models import Movie
from catalog.selectors import movie_in_bulk
from movierec_site.api import ApiPagination, JsonIntegerField, api_url, query_params

from . import selectors, services
from .models import MAX_RATING, MIN_RATING, Rating, validate_rating_value

# One request may rate this many movies (one upsert statement for all of them).
BULK_MAX_RATINGS = 500


@extend_schema_field(
    {
        "type": "number",
        "minimum": float(MIN_RATING),
        "maximum": float(MAX_RATING),
        "multipleOf": 0.5,
        "description": "0.5 to 5 stars in half steps.",
    }
)
class RatingValueField(serializers.DecimalField):
    """0.5 to 5 stars in half steps, as a JSON number; one message for any other value."""

    default_error_messages = {"type": "Send the rating as a JSON number, such as 4.5."}

    def __init__(self, **kwargs):
        super().__init__(
            max_digits=None, decimal_places=None, coerce_to_string=False, validators=[validate_rating_value], **kwargs
        )

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("type")
        return super().to_internal_value(data)


class RatingSerializer(serializers.Serializer):
    """A rating as the API shows it (the movie must be loaded with it), with links to it and to its movie."""

    class Meta:
        ref_name = "Rating"

    movie = serializers.IntegerField(source="movie_id", help_text="Movie id.")
    title = serializers.CharField(source="movie.title")
    year = serializers.IntegerField(source="movie.year", allow_null=True)
    value = serializers.FloatField()
    rated_at = serializers.DateTimeField()
    url = serializers.SerializerMethodField(help_text="This rating: change it (PUT) or remove it (DELETE) there.")
    movie_url = serializers.SerializerMethodField(help_text="The movie in this API.")

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, rating: Rating) -> str:
        return api_url(self.context.get("request"), "my_rating_detail", rating.movie_id)

    @extend_schema_field(OpenApiTypes.URI)
    def get_movie_url(self, rating: Rating) -> str:
        return api_url(self.context.get("request"), "movie_detail", rating.movie_id)


class RatingInputSerializer(serializers.Serializer):
    class Meta:
        ref_name = "RatingInput"

    movie = JsonIntegerField(min_value=1, max_value=MAX_MOVIE_ID, help_text="Movie id.")
    value = RatingValueField()


class RatingValueInputSerializer(serializers.Serializer):
    class Meta:
        ref_name = "RatingValueInput"

    value = RatingValueField()


def _save(*, user, movie: Movie, value) -> tuple[Rating, bool]:
    """Upsert through the service; True if the rating is new."""
    existed = selectors.rating_get(user=user, movie_id=movie.pk) is not None
    rating = services.rating_upsert(user=user, movie=movie, value=value)
    rating.movie = movie
    return rating, not existed


class RatingListApi(ListAPIView):
    """Your ratings, newest first, each with a link to change or remove it; rate a movie here."""

    pagination_class = ApiPagination
    serializer_class = RatingSerializer
    name = "Your ratings"

    class FilterSerializer(serializers.Serializer):
        class Meta:
            ref_name = "RatingFilters"

        sort = serializers.ChoiceField(
            choices=list(selectors.RATING_SORTS),
            required=False,
            default="date",
            help_text="date: newest first (-date oldest first), value: highest first, title: A to Z.",
        )

    @extend_schema(operation_id="my_ratings_list", parameters=[FilterSerializer], tags=["my ratings"])
    def get(self, request, *args, **kwargs):
        """Your ratings, paginated, newest first unless `sort` says otherwise."""
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        params = self.FilterSerializer(data=query_params(self.request))
        params.is_valid(raise_exception=True)
        return selectors.rating_list_for_user(user=self.request.user, sort=params.validated_data["sort"])

    def get_serializer_class(self):
        # POST reads RatingInputSerializer (the browsable API makes its form from it); GET lists ratings.
        if self.request is not None and self.request.method == "POST":
            return RatingInputSerializer
        return super().get_serializer_class()

    @extend_schema(
        operation_id="my_ratings_create",
        request=RatingInputSerializer,
        responses={201: RatingSerializer, 200: RatingSerializer},
        tags=["my ratings"],
    )
    def post(self, request):
        """Rate a movie: 201 for a new rating, 200 when it replaces your earlier rating of the movie."""
        serializer = RatingInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        movie = movie_in_bulk(movie_ids=[data["movie"]]).get(data["movie"])
        if movie is None:
            raise serializers.ValidationError({"movie": [f"There is no movie with id {data['movie']}."]})
        rating, created = _save(user=request.user, movie=movie, value=data["value"])
        return Response(
            RatingSerializer(rating, context={"request": request}).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class RatingDetailApi(APIView):
    """Your rating of one movie: see it, rate the movie or change your rating (PUT), remove it (DELETE)."""

    name = "Your rating"

    def get_serializer(self, *args, **kwargs):
        """What PUT and PATCH read: the browsable API makes its form from it."""
        return RatingValueInputSerializer(*args, **kwargs)

    def _rating_or_404(self, request, movie_id: int) -> Rating:
        movie = movie_or_404(movie_id, with_genres=False)
        rating = selectors.rating_get(user=request.user, movie_id=movie.pk)
        if rating is None:
            raise NotFound(f"You have not rated movie {movie_id}.")
        rating.movie = movie
        return rating

    @extend_schema(operation_id="my_ratings_retrieve", responses=RatingSerializer, tags=["my ratings"])
    def get(self, request, movie_id: int):
        """Your rating of one movie; 404 if you have not rated it."""
        return Response(RatingSerializer(self._rating_or_404(request, movie_id), context={"request": request}).data)

    @extend_schema(
        operation_id="my_ratings_update",
        request=RatingValueInputSerializer,
        responses={200: RatingSerializer, 201: RatingSerializer},
        tags=["my ratings"],
    )
    def put(self, request, movie_id: int):
        """Set your rating of the movie: 200 when it replaces one, 201 when it is your first."""
        movie = movie_or_404(movie_id, with_genres=False)
        serializer = RatingValueInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        rating, created = _save(user=request.user, movie=movie, value=serializer.validated_data["value"])
        return Response(
            RatingSerializer(rating, context={"request": request}).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(
        operation_id="my_ratings_partial_update",
        request=RatingValueInputSerializer,
        responses={200: RatingSerializer, 201: RatingSerializer},
        tags=["my ratings"],
    )
    def patch(self, request, movie_id: int):
        """Same as PUT: a rating has one writable field."""
        return self.put(request, movie_id)

    @extend_schema(
        operation_id="my_ratings_destroy",
        responses={204: OpenApiResponse(description="Rating removed.")},
        tags=["my ratings"],
    )
    def delete(self, request, movie_id: int):
        """Remove your rating of the movie; 404 if you had not rated it."""
        movie = movie_or_404(movie_id, with_genres=False)
        if not services.rating_delete(user=request.user, movie=movie):
            raise NotFound(f"You have not rated movie {movie_id}.")
        return Response(status=status.HTTP_204_NO_CONTENT)


class RatingBulkApi(APIView):
    """Rate up to 500 movies at once, all or nothing."""

    name = "Rate many movies"

    def get_serializer(self, *args, **kwargs):
        """What POST reads: the browsable API makes its form from it."""
        return self.InputSerializer(*args, **kwargs)

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "RatingBulkInput"

        ratings = RatingInputSerializer(many=True, allow_empty=False, max_length=BULK_MAX_RATINGS)

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "RatingBulkResult"

        created = serializers.IntegerField(help_text="Movies you had not rated before.")
        updated = serializers.IntegerField(help_text="Ratings that replaced earlier ones.")
        ratings = RatingSerializer(many=True)

    @extend_schema(
        operation_id="my_ratings_bulk",
        request=InputSerializer,
        responses=OutputSerializer,
        tags=["my ratings"],
    )
    def post(self, request):
        """Create or update up to 500 ratings at once, all or nothing.

        Every item is checked first (value in half steps from 0.5 to 5, a known movie, each movie
        once); if any is invalid nothing is saved, and `error.fields.ratings` maps the position
        (from 0) of each invalid item to its errors, e.g. {"2": {"value": ["…"]}}.
        """
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        items = serializer.validated_data["ratings"]
        movies = movie_in_bulk(movie_ids={item["movie"] for item in items})
        errors: dict[int, dict] = {}
        seen: set[int] = set()
        for position, item in enumerate(items):
            movie_id = item["movie"]
            if movie_id not in movies:
                errors[position] = {"movie": [f"There is no movie with id {movie_id}."]}
            elif movie_id in seen:
                errors[position] = {"movie": [f"Movie {movie_id} appears more than once in this request."]}
            seen.add(movie_id)
        if errors:
            raise serializers.ValidationError({"ratings": errors})

        already_rated = selectors.rating_values_for_movies(user=request.user, movie_ids=seen)
        saved = services.rating_upsert_many(
            user=request.user, values={movies[item["movie"]]: item["value"] for item in items}
        )
        created = sum(1 for rating in saved if rating.movie_id not in already_rated)
        return Response(
            self.OutputSerializer(
                {"created": created, "updated": len(saved) - created, "ratings": saved}, context={"request": request}
            ).data
        )
