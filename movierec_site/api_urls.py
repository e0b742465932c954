"""The REST API, mounted at /api/v1/ (namespace "api"). The schema and docs live at /api/schema/ and /api/docs/."""

from django.urls import path, re_path
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from accounts.api import TokenApi
from catalog.api import GenreListApi, MovieDetailApi
from movienight.api import (
    GroupDetailApi,
    GroupInviteApi,
    GroupJoinApi,
    GroupLeaveApi,
    GroupListApi,
    GroupMoviesApi,
)
from ratings.api import RatingBulkApi, RatingDetailApi, RatingListApi
from ratings.imports.api import (
    RatingImportConfirmApi,
    RatingImportDetailApi,
    RatingImportItemListApi,
    RatingImportListApi,
    RatingImportUndoApi,
)
from recommendations.api import (
    MovieListWithNewArrivalsApi,
    MyPredictionApi,
    MyRecommendationsApi,
    SimilarMoviesApi,
    TrainingRunDetailApi,
    TrainingRunListApi,
    UserRecommendationsApi,
)
from yourdata.api import ExportApi, MeApi


@extend_schema(exclude=True)
class NotFoundApi(APIView):
    """Any other path under /api/v1/: a JSON 404 in the API's error shape, not the site's HTML page."""

    permission_classes = [AllowAny]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)  # authentication and throttling still apply
        raise NotFound("There is no such API endpoint.")


app_name = "api"
urlpatterns = [
    path("auth/token/", TokenApi.as_view(), name="token"),
    path("me/", MeApi.as_view(), name="me"),
    path("me/export/", ExportApi.as_view(), name="my_export"),
    path("genres/", GenreListApi.as_view(), name="genre_list"),
    # The catalogue's list with the new-arrivals filter (`new`), which asks the recommender: recommendations.api.
    path("movies/", MovieListWithNewArrivalsApi.as_view(), name="movie_list"),
    path("movies/<int:movie_id>/", MovieDetailApi.as_view(), name="movie_detail"),
    path("movies/<int:movie_id>/similar/", SimilarMoviesApi.as_view(), name="movie_similar"),
    path("me/ratings/", RatingListApi.as_view(), name="my_rating_list"),
    path("me/ratings/bulk/", RatingBulkApi.as_view(), name="my_rating_bulk"),
    path("me/ratings/<int:movie_id>/", RatingDetailApi.as_view(), name="my_rating_detail"),
    path("me/rating-imports/", RatingImportListApi.as_view(), name="my_rating_import_list"),
    path("me/rating-imports/<int:import_id>/", RatingImportDetailApi.as_view(), name="my_rating_import_detail"),
    path("me/rating-imports/<int:import_id>/items/", RatingImportItemListApi.as_view(), name="my_rating_import_items"),
    path(
        "me/rating-imports/<int:import_id>/confirm/", RatingImportConfirmApi.as_view(), name="my_rating_import_confirm"
    ),
    path("me/rating-imports/<int:import_id>/undo/", RatingImportUndoApi.as_view(), name="my_rating_import_undo"),
    path("me/recommendations/", MyRecommendationsApi.as_view(), name="my_recommendations"),
    path("me/predictions/<int:movie_id>/", MyPredictionApi.as_view(), name="my_prediction"),
    path("users/<int:user_id>/recommendations/", UserRecommendationsApi.as_view(), name="user_recommendations"),
    path("training-runs/", TrainingRunListApi.as_view(), name="training_run_list"),
    path("training-runs/<int:run_id>/", TrainingRunDetailApi.as_view(), name="training_run_detail"),
    path("groups/", GroupListApi.as_view(), name="group_list"),
    path("groups/join/", GroupJoinApi.as_view(), name="group_join"),
    path("groups/<int:group_id>/", GroupDetailApi.as_view(), name="group_detail"),
    path("groups/<int:group_id>/leave/", GroupLeaveApi.as_view(), name="group_leave"),
    path("groups/<int:group_id>/invite/", GroupInviteApi.as_view(), name="group_invite"),
    path("groups/<int:group_id>/movies/", GroupMoviesApi.as_view(), name="group_movies"),
    re_path(r"^[\s\S]*$", NotFoundApi.as_view(), name="not_found"),  # any character, newlines too
]
