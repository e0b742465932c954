"""The REST API, mounted at /api/v1/ (namespace "api"). The schema and docs live at /api/schema/ and /api/docs/.

/api/v1/ itself is the API root: the endpoints a client may use, for people in the browsable API and for
programs as JSON. Any other unknown path is the catch-all JSON 404.
"""

import re

from django.urls import path, re_path, reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
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
from movierec_site.api import absolute_url, view_summary
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

PUBLIC, SIGNED_IN, STAFF = "public", "signed_in", "staff"
# Who may use each endpoint, by URL name: what the API root lists for whom. Every route but the root and the
# catch-all must be here (tests/api/test_root.py); the views' permissions are what enforce it.
ENDPOINT_ACCESS = {
    "token": PUBLIC,  # POST (get a token) needs no credentials; GET and DELETE do
    "me": SIGNED_IN,
    "my_export": SIGNED_IN,
    "genre_list": PUBLIC,
    "movie_list": PUBLIC,
    "movie_detail": PUBLIC,
    "movie_similar": PUBLIC,
    "my_rating_list": SIGNED_IN,
    "my_rating_bulk": SIGNED_IN,
    "my_rating_detail": SIGNED_IN,
    "my_rating_import_list": SIGNED_IN,
    "my_rating_import_detail": SIGNED_IN,
    "my_rating_import_items": SIGNED_IN,
    "my_rating_import_confirm": SIGNED_IN,
    "my_rating_import_undo": SIGNED_IN,
    "my_recommendations": SIGNED_IN,
    "my_prediction": SIGNED_IN,
    "user_recommendations": STAFF,  # a user may name themselves; anyone else's list is for staff
    "training_run_list": STAFF,
    "training_run_detail": STAFF,
    "group_list": SIGNED_IN,
    "group_join": SIGNED_IN,
    "group_detail": SIGNED_IN,  # members only; anyone else gets 404
    "group_leave": SIGNED_IN,
    "group_invite": SIGNED_IN,
    "group_movies": SIGNED_IN,
}
_LISTED_METHODS = ("get", "post", "put", "patch", "delete")


def _may_use(access: str, user) -> bool:
    return access == PUBLIC or (access == SIGNED_IN and user.is_authenticated) or (access == STAFF and user.is_staff)


class ApiRootApi(APIView):
    """Browse movies, rate them, and get recommendations that follow your ratings at once.

    Below are the endpoints you may use, each with what it is for and a link; a path with `{movie_id}`
    or another `{…}` needs an id, so follow the links from a list to reach one. To use the endpoints
    for signed-in people, log in on the site (this browsable API then uses your session), or get a token
    with `POST /api/v1/auth/token/` and send it as `Authorization: Token <key>`. Every error has the
    body `{"error": {"code", "message", "fields"}}`. The OpenAPI schema is at /api/schema/ and the
    interactive docs at /api/docs/.
    """

    permission_classes = [AllowAny]
    name = "MovieRec API"

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ApiRoot"

        class UserSerializer(serializers.Serializer):
            class Meta:
                ref_name = "ApiRootUser"

            id = serializers.IntegerField()
            username = serializers.CharField()
            is_staff = serializers.BooleanField()

        class LinksSerializer(serializers.Serializer):
            class Meta:
                ref_name = "ApiRootLinks"

            site = serializers.URLField(help_text="The MovieRec website.")
            login = serializers.URLField(help_text="Log in on the site, then come back here.")
            token = serializers.URLField(help_text="POST your username and password here for an API token.")
            schema = serializers.URLField(help_text="The OpenAPI 3 schema.")
            docs = serializers.URLField(help_text="Interactive documentation (Swagger UI).")

        class EndpointSerializer(serializers.Serializer):
            class Meta:
                ref_name = "ApiEndpoint"

            name = serializers.CharField()
            description = serializers.CharField(help_text="What the endpoint is for, in one line.")
            path = serializers.CharField(help_text="Its path; `{movie_id}` and the like stand for ids.")
            url = serializers.URLField(allow_null=True, help_text="Absolute link; null when the path needs an id.")
            methods = serializers.ListField(child=serializers.ChoiceField(choices=[m.upper() for m in _LISTED_METHODS]))
            access = serializers.ChoiceField(
                choices=[PUBLIC, SIGNED_IN, STAFF],
                help_text="public: no credentials needed; signed_in: yours only; staff: staff accounts.",
            )

        name = serializers.CharField()
        version = serializers.CharField()
        user = UserSerializer(allow_null=True, help_text="Who you are signed in as; null without credentials.")
        authentication = serializers.CharField(help_text="How you are authenticated, or how to.")
        links = LinksSerializer()
        endpoints = EndpointSerializer(
            many=True, help_text="Those you may use: without credentials the public ones, staff see theirs too."
        )

    @extend_schema(operation_id="api_root", responses=OutputSerializer, tags=["api"])
    def get(self, request):
        """The endpoints you may use, with a line on each and links, and how to authenticate for the others."""
        user = request.user
        root = reverse("api:root")
        if user.is_authenticated:
            authentication = f"Signed in as {user.get_username()}."
        else:
            authentication = (
                "Not signed in: these are the public endpoints. Log in on the site (links.login) to use the "
                "others here, or POST your username and password to links.token for a token and send it as "
                "`Authorization: Token <key>`."
            )
        body = {
            "name": self.name,
            "version": "v1",
            "user": user if user.is_authenticated else None,
            "authentication": authentication,
            "links": {
                "site": absolute_url(request, reverse("home")),
                "login": absolute_url(request, f"{reverse('login')}?next={root}"),
                "token": absolute_url(request, reverse("api:token")),
                "schema": absolute_url(request, reverse("api_schema")),
                "docs": absolute_url(request, reverse("api_docs")),
            },
            "endpoints": [
                endpoint_entry(request, pattern)
                for pattern in urlpatterns
                if pattern.name in ENDPOINT_ACCESS and _may_use(ENDPOINT_ACCESS[pattern.name], user)
            ],
        }
        return Response(self.OutputSerializer(body).data)


def endpoint_entry(request, pattern) -> dict:
    """What the root says about one route: its view's name and docstring summary, path, link and methods."""
    view_class = pattern.callback.cls
    template = reverse("api:root") + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", str(pattern.pattern))
    return {
        "name": view_class(**pattern.callback.initkwargs).get_view_name(),
        "description": view_summary(view_class),
        "path": template,
        "url": None if "{" in template else absolute_url(request, template),
        "methods": [method.upper() for method in _LISTED_METHODS if hasattr(view_class, method)],
        "access": ENDPOINT_ACCESS[pattern.name],
    }


@extend_schema(exclude=True)
class NotFoundApi(APIView):
    """There is no endpoint at this address. The API root, /api/v1/, lists every endpoint you may use."""

    # Any other path under /api/v1/: a JSON 404 in the API's error shape, not the site's HTML page. It matches
    # every prefix of every path, so it is no breadcrumb in the browsable API.
    permission_classes = [AllowAny]
    name = "Not found"
    in_breadcrumbs = False

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)  # authentication and throttling still apply
        raise NotFound("There is no such API endpoint.")


app_name = "api"
urlpatterns = [
    path("", ApiRootApi.as_view(), name="root"),
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
