"""REST API for recommendations: yours (fresh: your latest ratings folded in), a predicted rating,
similar movies, any user's recommendations for staff, and training runs (list, detail, retrain).

Interfaces only: parse, call one selector or service, render.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from types import MappingProxyType

import orjson
from django.conf import settings
from django.db.models import QuerySet
from django.urls import get_script_prefix, get_urlconf, reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny, IsAdminUser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.selectors import user_get
from catalog.api import MAX_MIN_RATINGS, GenreField, MovieSummarySerializer, movie_or_404, movie_summary_cached
from catalog.api import MovieListApi as CatalogMovieListApi
from catalog.models import Movie
from movierec_site.api import (
    ApiBrowsableRenderer,
    ApiPagination,
    JsonBooleanField,
    JsonIntegerField,
    JsonNumberField,
    QueryIntegerField,
    absolute_url,
    api_url,
    query_params,
)
from ratings.selectors import rating_get

from . import flavours, selectors
from .forms import DEFAULT_MIN_RATINGS
from .models import TrainingRun
from .retrain import RetrainOptions, retrain_enqueue

MAX_RECOMMENDATIONS = 100
DEFAULT_RECOMMENDATIONS = 20
# As on the site: predictions for movies with few ratings are shaky.
MAX_SIMILAR = 50
# Users' primary keys are PostgreSQL bigints; anything larger cannot name a user.
MAX_USER_ID = 2**63 - 1
MAX_RUN_ID = 2**63 - 1


class MovieRefSerializer(serializers.Serializer):
    class Meta:
        ref_name = "MovieRef"

    id = serializers.IntegerField()
    url = serializers.SerializerMethodField(help_text="The movie in this API.")
    title = serializers.CharField()

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, movie: Movie) -> str:
        return api_url(self.context.get("request"), "movie_detail", movie.pk)


class RecommendationFilterSerializer(serializers.Serializer):
    class Meta:
        ref_name = "RecommendationFilters"

    n = QueryIntegerField(
        required=False, default=DEFAULT_RECOMMENDATIONS, min_value=1, max_value=MAX_RECOMMENDATIONS,
        help_text="How many movies (1 to 100).",
    )  # fmt: skip
    genre = GenreField(
        required=False,
        allow_blank=True,
        help_text="Only movies of this genre, e.g. Comedy; an unknown name matches no movie.",
    )
    min_ratings = QueryIntegerField(
        required=False, default=DEFAULT_MIN_RATINGS, min_value=0, max_value=MAX_MIN_RATINGS,
        help_text="Only movies rated by at least this many people.",
    )  # fmt: skip
    flavour = serializers.ChoiceField(
        choices=list(flavours.FLAVOURS),
        required=False,
        default=flavours.TOP_PICKS,
        help_text="Which list: top_picks (the best matches; the default), different (good matches unlike each "
        "other: maximal marginal relevance), hidden_gems (less-known movies you are likely to rate highly), "
        "genre_mix (good matches in the proportions of the genres you rate). Each item's `explanation` says why "
        "the flavour chose it. Popular movies (personal false) are the same for every flavour.",
    )


class RecommendationsSerializer(serializers.Serializer):
    class Meta:
        ref_name = "Recommendations"

    class ItemSerializer(serializers.Serializer):
        class Meta:
            ref_name = "Recommendation"

        rank = serializers.IntegerField()
        movie = MovieSummarySerializer()
        predicted_rating = serializers.FloatField(
            allow_null=True,
            help_text="Stars the model predicts for you; null for popular picks and implicit-preference models.",
        )
        because = MovieRefSerializer(allow_null=True, help_text="The movie you rated that weighs most in the pick.")
        explanation = serializers.CharField()
        new = serializers.BooleanField(
            help_text="True for a movie the serving model has not trained yet: its place comes from its content and "
            "the ratings it received since (it is trained at the next retrain)."
        )

    user = serializers.IntegerField(help_text="Whose recommendations these are.")
    personal = serializers.BooleanField(
        help_text="False when there is no trained model or no usable rating yet: the items are popular movies."
    )
    run = serializers.IntegerField(allow_null=True, help_text="The training run that scored them.")
    flavour = serializers.ChoiceField(choices=list(flavours.FLAVOURS), help_text="Which list these are.")
    results = ItemSerializer(many=True)


class FastJSONRenderer(JSONRenderer):
    """DRF's JSONRenderer, writing the same JSON with orjson: the busiest endpoint's encoding took
    about a twentieth of its request time with the standard library's encoder.

    Same bytes as DRF's compact output for this endpoint's bodies (U+2028/U+2029 escaped as DRF
    does; a float may be spelt differently, 1e-05 as 0.00001, the same number). What orjson does not
    take as it is (dates, Decimals, lazy strings, NumPy's floats) goes through DRF's encoder; what it
    cannot write at all, `indent` in the Accept header, or non-default JSON settings go to DRF's
    renderer itself. One difference: a NaN or infinite float is written as null, where DRF refuses
    it (a 500).
    """

    # orjson writes subclasses of str, int, dict and list (DRF's ErrorDetail, ReturnDict) as the
    # standard library does; dates and dataclasses are left to DRF's encoder.
    _OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None or self.ensure_ascii or not self.compact:
            return super().render(data, accepted_media_type, renderer_context)
        if self.get_indent(accepted_media_type, renderer_context or {}) is not None:
            return super().render(data, accepted_media_type, renderer_context)
        try:
            body = orjson.dumps(data, default=self.encoder_class().default, option=self._OPTIONS)
        except orjson.JSONEncodeError:  # something orjson will not write: DRF's renderer decides (or fails) as before
            return super().render(data, accepted_media_type, renderer_context)
        # As DRF: JSON that is also a strict JavaScript subset.
        return body.replace(b"\xe2\x80\xa8", b"\\u2028").replace(b"\xe2\x80\xa9", b"\\u2029")


# The recommendation views answer in JSON through FastJSONRenderer; browsers still get the browsable API.
RECOMMENDATION_RENDERERS = [FastJSONRenderer, ApiBrowsableRenderer]


def _explain(item, personal: bool) -> str:
    if not personal:
        mean = f", {item.movie.rating_mean:.1f} stars on average" if item.movie.rating_mean is not None else ""
        return f"Popular: rated by {item.movie.rating_count} people{mean}."
    if item.reason is not None:
        return f"{item.reason}."
    if item.because is not None:
        return f"Because you rated {item.because.title}."
    return "Matches the tastes your ratings show."


@functools.cache
def _default_filters() -> Mapping:
    params = RecommendationFilterSerializer(data={})
    params.is_valid(raise_exception=True)
    return MappingProxyType(dict(params.validated_data))  # shared by every request: read-only


def _recommendations_filters(request) -> Mapping:
    query = query_params(request)
    if not query:
        # Most requests have no query string: what the serializer would validate {} to, without
        # building its fields afresh (deep copies) on every request.
        return _default_filters()
    params = RecommendationFilterSerializer(data=query)
    params.is_valid(raise_exception=True)
    return params.validated_data


@functools.lru_cache(maxsize=16)
def _movie_list_path(script_prefix: str, urlconf: str) -> str:
    """reverse("api:movie_list") for this script prefix and URLconf: reversing took ~0.07 ms of every request."""
    return reverse("api:movie_list", urlconf=urlconf)


def _read_with_token(token) -> dict:
    """recommendation_list_for_user_fresh's `serving_run` and `stored` as the token's query read them, if it did."""
    read = getattr(token, "serving_read", None)
    return {} if read is None else {"serving_run": read.run, "stored": read.stored}


def _recommendations_response(request, user) -> Response:
    data = _recommendations_filters(request)
    result = selectors.recommendation_list_for_user_fresh(
        user=user,
        limit=data["n"],
        genre=data.get("genre"),
        min_ratings=data["min_ratings"],
        # `user` was read from the database for this request (authentication or user_get); GETs write nothing.
        taste_version=user.taste_version,
        flavour=data["flavour"],
        # Read with the token (token_query_addition), when a token authenticated the request.
        **_read_with_token(request.auth),
    )
    # Rendered by hand (the busiest endpoint): the shape is RecommendationsSerializer's, which
    # documents it, and tests/api check that both agree.
    movies_url = absolute_url(request, _movie_list_path(get_script_prefix(), get_urlconf() or settings.ROOT_URLCONF))
    body = {
        "user": user.pk,
        "personal": result.personal,
        "run": result.run.pk if result.run else None,
        "flavour": result.flavour,
        "results": [
            {
                "rank": rank,
                # Shared per process (the movie cache's objects): read-only, as the rest of the body.
                "movie": movie_summary_cached(item.movie, movies_url=movies_url),
                # score: the predicted stars (None when the run predicts none); popular lists carry averages.
                "predicted_rating": item.score if result.personal else None,
                "because": (
                    {"id": item.because.pk, "url": f"{movies_url}{item.because.pk}/", "title": item.because.title}
                    if item.because
                    else None
                ),
                "explanation": _explain(item, result.personal),
                "new": item.new,
            }
            for rank, item in enumerate(result.items, start=1)
        ],
    }
    return Response(body)


class MyRecommendationsApi(APIView):
    """Movies for you, best first, following every rating you have saved; each links to its movie."""

    renderer_classes = RECOMMENDATION_RENDERERS
    # The active run, its new movies and your stored list are read with the token (one round trip for all):
    # `request.auth.serving_read`.
    token_query_addition = selectors.SERVING_LIST_WITH_TOKEN
    name = "Your recommendations"

    @extend_schema(
        operation_id="my_recommendations",
        parameters=[RecommendationFilterSerializer],
        responses=RecommendationsSerializer,
        tags=["my recommendations"],
    )
    def get(self, request):
        """Your top-N, best first, reflecting every rating you have saved (no retrain needed).

        Movies you rated or hid never appear. Without a trained model or any usable rating the
        list holds popular movies and `personal` is false.
        """
        return _recommendations_response(request, request.user)


class UserRecommendationsApi(APIView):
    """Staff: the recommendations any user sees, as they see them."""

    renderer_classes = RECOMMENDATION_RENDERERS
    name = "A user's recommendations"

    @extend_schema(
        operation_id="user_recommendations",
        parameters=[RecommendationFilterSerializer],
        responses=RecommendationsSerializer,
        tags=["staff"],
    )
    def get(self, request, user_id: int):
        """Staff: any user's recommendations (as they see them). Others may only name themselves; 404 otherwise."""
        if user_id == request.user.pk:
            return _recommendations_response(request, request.user)
        user = user_get(user_id=user_id) if request.user.is_staff and 0 < user_id <= MAX_USER_ID else None
        if user is None:
            raise NotFound(f"There is no user with id {user_id}.")
        return _recommendations_response(request, user)


class MyPredictionApi(APIView):
    """The stars the recommender predicts you would give a movie, next to your own rating of it."""

    name = "Predicted rating"

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "Prediction"

        movie = MovieRefSerializer()
        predicted_rating = serializers.FloatField(
            allow_null=True,
            help_text="null without a trained model, for a movie it does not know, or before your first rating.",
        )
        my_rating = serializers.FloatField(allow_null=True, help_text="Your rating of the movie, if any.")

    @extend_schema(operation_id="my_prediction", responses=OutputSerializer, tags=["my recommendations"])
    def get(self, request, movie_id: int):
        """The rating the model predicts you would give the movie, with your current ratings folded in."""
        movie = movie_or_404(movie_id)
        rating = rating_get(user=request.user, movie_id=movie.pk)
        body = {
            "movie": movie,
            "predicted_rating": selectors.predicted_rating(user=request.user, movie=movie),
            "my_rating": rating.value if rating else None,
        }
        return Response(self.OutputSerializer(body, context={"request": request}).data)


class SimilarMoviesApi(APIView):
    """The movies most like this one, by the recommender's model; each links to its movie."""

    permission_classes = [AllowAny]
    name = "Similar movies"

    class FilterSerializer(serializers.Serializer):
        class Meta:
            ref_name = "SimilarFilters"

        n = QueryIntegerField(required=False, default=10, min_value=1, max_value=MAX_SIMILAR, help_text="How many.")

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "SimilarMovie"

        rank = serializers.IntegerField()
        similarity = serializers.FloatField(source="score", help_text="Cosine similarity of the ALS item factors.")
        movie = MovieSummarySerializer(source="similar")
        new = serializers.BooleanField(
            help_text="True for a movie the serving model has not trained yet (factors from its content and ratings)."
        )

    @extend_schema(
        operation_id="movies_similar",
        parameters=[FilterSerializer],
        responses=OutputSerializer(many=True),
        tags=["movies"],
    )
    def get(self, request, movie_id: int):
        """The movies most like this one by the active model; [] before the first training run."""
        params = self.FilterSerializer(data=query_params(request))
        params.is_valid(raise_exception=True)
        movie = movie_or_404(movie_id)
        similar = selectors.similar_movie_list(movie=movie, limit=params.validated_data["n"])
        return Response(self.OutputSerializer(similar, many=True, context={"request": request}).data)


class MovieListWithNewArrivalsApi(CatalogMovieListApi):
    """The catalogue: browse and search every movie, by title words, genre, decade and number of ratings, or
    list the new arrivals the recommender has not learned yet.

    Each movie links to its page here, which links on to similar movies and to your predicted rating.
    """

    # GET /api/v1/movies/: the catalogue's movie list (catalog.api.MovieListApi) with one more filter, `new`.
    # New arrivals are movies the serving model has not learned, a question for this app: catalog may not import
    # recommendations, so the filter is added here and movierec_site/api_urls.py routes the list to this view.

    class FilterSerializer(CatalogMovieListApi.FilterSerializer):
        class Meta:
            ref_name = "MovieFilters"

        new = serializers.BooleanField(
            required=False,
            default=False,
            help_text=(
                "true: only new arrivals, movies the serving recommender model has not learned yet (added or first "
                "rated since it was trained); none while no model is serving."
            ),
        )

    @extend_schema(operation_id="movies_list", parameters=[FilterSerializer], tags=["movies"])
    def get(self, request, *args, **kwargs):
        """Browse and search the catalogue, paginated; most rated first unless `sort` says otherwise."""
        return super().get(request, *args, **kwargs)

    def movies(self, data: dict) -> QuerySet[Movie]:
        movies = super().movies(data)
        return selectors.movie_filter_new_arrivals(movies=movies) if data["new"] else movies


# --- Training runs (staff) ---


class TrainingRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = TrainingRun
        ref_name = "TrainingRun"
        fields = [
            "id",
            "url",
            "status",
            "is_active",
            "trigger",
            "parameters",
            "spark_master",
            "ratings_count",
            "users_count",
            "movies_count",
            "rows_written",
            "evaluation",
            "metrics",
            "global_mean",
            "export_seconds",
            "fit_seconds",
            "content_seconds",
            "evaluate_seconds",
            "topn_seconds",
            "publish_seconds",
            "duration_seconds",
            "error",
            "warnings",
            "created_at",
            "started_at",
            "finished_at",
            "ratings_snapshot_at",
            "pruned_at",
        ]
        read_only_fields = fields

    url = serializers.SerializerMethodField()
    duration_seconds = serializers.FloatField(read_only=True, allow_null=True)

    def get_url(self, run: TrainingRun) -> str:
        return _run_url(self.context["request"], run)


def _run_url(request, run: TrainingRun) -> str:
    return request.build_absolute_uri(reverse("api:training_run_detail", args=[run.pk]))


class TrainingRunListApi(ListAPIView):
    """Staff: the recommender's training runs, newest first, and a retrain on demand."""

    permission_classes = [IsAdminUser]
    pagination_class = ApiPagination
    serializer_class = TrainingRunSerializer
    name = "Training runs"

    def get_queryset(self):
        return selectors.training_run_list()

    def get_serializer_class(self):
        # POST reads RetrainInputSerializer (the browsable API makes its form from it); GET lists runs.
        if self.request is not None and self.request.method == "POST":
            return self.RetrainInputSerializer
        return super().get_serializer_class()

    class RetrainInputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "RetrainInput"

        rank = JsonIntegerField(required=False, min_value=1, max_value=100, help_text="Stars model (biased ALS) rank.")
        max_iter = JsonIntegerField(required=False, min_value=1, max_value=50, help_text="Stars model iterations.")
        reg_param = JsonNumberField(
            required=False, min_value=0, max_value=10, help_text="Stars model ALS regularisation."
        )
        list_rank = JsonIntegerField(
            required=False, min_value=1, max_value=200, help_text="List model (implicit ALS) rank."
        )
        list_max_iter = JsonIntegerField(required=False, min_value=1, max_value=50, help_text="List model iterations.")
        list_reg_param = JsonNumberField(
            required=False, min_value=0, max_value=10, help_text="List model ALS regularisation."
        )
        list_alpha = JsonNumberField(
            required=False, min_value=0.01, max_value=100, help_text="List model confidence weight alpha."
        )
        evaluate = JsonBooleanField(required=False, help_text="Measure RMSE and NDCG on a held-out split first.")

    class RetrainOutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "RetrainQueued"

        id = serializers.IntegerField()
        status = serializers.ChoiceField(
            choices=[TrainingRun.Status.QUEUED, TrainingRun.Status.SKIPPED],
            help_text="skipped: a retrain was already running or queued; nothing new will run.",
        )
        url = serializers.URLField(help_text="Poll this for progress.")

    @extend_schema(operation_id="training_runs_list", tags=["staff"])
    def get(self, request, *args, **kwargs):
        """Staff: training runs, newest first."""
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="training_runs_create",
        request=RetrainInputSerializer,
        responses={202: RetrainOutputSerializer},
        tags=["staff"],
    )
    def post(self, request):
        """Staff: queue a retrain (202). Poll the returned `url` (also the Location header) until it finishes.

        Options left out come from the server's settings. When a retrain is already running or
        queued the request is recorded as a `skipped` run.
        """
        serializer = self.RetrainInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            options = RetrainOptions.from_settings(**serializer.validated_data)
            options.validate()
        except ValueError as exc:
            raise serializers.ValidationError(str(exc))
        run = retrain_enqueue(trigger=TrainingRun.Trigger.API, options=options)
        url = _run_url(request, run)
        return Response(
            self.RetrainOutputSerializer({"id": run.pk, "status": run.status, "url": url}).data,
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": url},
        )


class TrainingRunDetailApi(APIView):
    """Staff: one training run, with its stage timings, metrics and error."""

    permission_classes = [IsAdminUser]
    name = "Training run"

    @extend_schema(
        operation_id="training_runs_retrieve",
        responses=TrainingRunSerializer,
        tags=["staff"],
    )
    def get(self, request, run_id: int):
        """Staff: one training run, with its stage timings, metrics and error."""
        run = selectors.training_run_get(run_id=run_id) if 0 < run_id <= MAX_RUN_ID else None
        if run is None:
            raise NotFound(f"There is no training run with id {run_id}.")
        return Response(TrainingRunSerializer(run, context={"request": request}).data)
