"""REST API for movie night: your groups (list, create, detail, delete), leaving, invites (join with the token,
a new token), and a group's movie list. Interfaces only: parse, call one selector or service, render.

Another person's group answers 404 as if it did not exist; an owner-only action by another member answers 403.
"""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.api import MAX_MIN_RATINGS, GenreField, MovieSummarySerializer, movie_summary
from movierec_site.api import ApiPagination, JsonStringField, QueryIntegerField, api_url, query_params
from recommendations.forms import DEFAULT_MIN_RATINGS

from .models import Group
from .ranking import AGGREGATIONS, AVERAGE
from .selectors import (
    LIST_COMPUTED,
    GroupMovies,
    GroupView,
    group_get_for_member,
    group_list_for_user,
    group_movie_list,
)
from .services import (
    MAX_NAME_LENGTH,
    InviteInvalid,
    group_create,
    group_delete,
    group_invite_regenerate,
    group_join,
    group_leave,
)
from .views import invite_url

TAGS = ["movie night"]
REASONS = {
    "no_run": "No recommender model is serving yet.",
    "no_stars_model": "The serving model predicts no stars.",
    "no_ratings": "No member has rated a movie the model knows.",
}


def _view_or_404(request, group_id: int) -> GroupView:
    view = group_get_for_member(user=request.user, group_id=group_id)
    if view is None:
        raise NotFound(f"There is no group with id {group_id} that you are in.")
    return view


def _api_url(request, group: Group) -> str:
    return request.build_absolute_uri(reverse("api:group_detail", args=[group.pk]))


class GroupSummarySerializer(serializers.Serializer):
    class Meta:
        ref_name = "GroupSummary"

    id = serializers.IntegerField()
    name = serializers.CharField()
    url = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    member_count = serializers.IntegerField()
    owner = serializers.CharField(source="owner_username", help_text="The owner's username.")
    is_owner = serializers.SerializerMethodField(help_text="Whether you own the group.")

    def get_url(self, group) -> str:
        return _api_url(self.context["request"], group)

    def get_is_owner(self, group) -> bool:
        return group.owner_id == self.context["request"].user.pk


class MemberSerializer(serializers.Serializer):
    class Meta:
        ref_name = "GroupMember"

    username = serializers.CharField()
    display_name = serializers.CharField(help_text="The full name the member gave, else the username.")
    is_owner = serializers.BooleanField()
    joined_at = serializers.DateTimeField()


class GroupDetailSerializer(serializers.Serializer):
    class Meta:
        ref_name = "Group"

    id = serializers.IntegerField()
    name = serializers.CharField()
    url = serializers.URLField()
    page_url = serializers.URLField(help_text="The group's page on the site.")
    created_at = serializers.DateTimeField()
    owner = serializers.CharField(help_text="The owner's username: the longest member.")
    is_owner = serializers.BooleanField(help_text="Whether you own the group.")
    members = MemberSerializer(many=True, help_text="Longest member (the owner) first.")
    invite_token = serializers.CharField(help_text='Join with POST /api/v1/groups/join/ {"token": …}.')
    invite_url = serializers.URLField(help_text="The invite link for people: it leads through log-in to joining.")


def _detail(request, view: GroupView) -> dict:
    group = view.group
    return GroupDetailSerializer(
        {
            "id": group.pk,
            "name": group.name,
            "url": _api_url(request, group),
            "page_url": request.build_absolute_uri(reverse("movienight_group", args=[group.pk])),
            "created_at": group.created_at,
            "owner": view.owner.username,
            "is_owner": view.is_owner(request.user),
            "members": view.members,
            "invite_token": group.invite_token,
            "invite_url": invite_url(request, group),
        }
    ).data


def _detail_of(request, group_id: int) -> dict:
    return _detail(request, _view_or_404(request, group_id))


class GroupListApi(ListAPIView):
    """Your movie-night groups, and a new one (you own it and get its invite link)."""

    pagination_class = ApiPagination
    serializer_class = GroupSummarySerializer

    class CreateInputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "GroupCreateInput"

        # Not trimmed here: the length limit holds for the string as sent (the schema's maxLength); the service
        # collapses whitespace and refuses a blank name.
        name = JsonStringField(max_length=MAX_NAME_LENGTH, trim_whitespace=False, help_text="What to call the group.")

    def get_queryset(self):
        return group_list_for_user(user=self.request.user)

    @extend_schema(operation_id="groups_list", tags=TAGS)
    def get(self, request, *args, **kwargs):
        """The movie-night groups you are in, newest first, paginated."""
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="groups_create",
        request=CreateInputSerializer,
        responses={201: GroupDetailSerializer},
        tags=TAGS,
    )
    def post(self, request):
        """Make a group; you are its first member and its owner. Share `invite_url` (or `invite_token`)."""
        serializer = self.CreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        group = group_create(user=request.user, name=serializer.validated_data["name"])
        body = _detail_of(request, group.pk)
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": body["url"]})


class GroupDetailApi(APIView):
    """One of your groups: its members and invite link. Its owner may delete it; anyone else gets 404."""

    @extend_schema(operation_id="groups_retrieve", responses=GroupDetailSerializer, tags=TAGS)
    def get(self, request, group_id: int):
        """One of your groups, with its members and invite link."""
        return Response(_detail_of(request, group_id))

    @extend_schema(
        operation_id="groups_destroy",
        responses={204: OpenApiResponse(description="The group is deleted, for every member.")},
        tags=TAGS,
    )
    def delete(self, request, group_id: int):
        """Delete the group for everyone in it. Only its owner may (403 for other members)."""
        view = _view_or_404(request, group_id)
        group_delete(user=request.user, group=view.group)
        return Response(status=status.HTTP_204_NO_CONTENT)


class GroupLeaveApi(APIView):
    """Leave a group; an owner hands it to the longest member, and the last one out deletes it."""

    @extend_schema(
        operation_id="groups_leave",
        request=None,
        responses={204: OpenApiResponse(description="You are no longer in the group.")},
        tags=TAGS,
    )
    def post(self, request, group_id: int):
        """Leave the group. When the owner leaves, the longest remaining member owns it; when the last member
        leaves, the group is deleted."""
        view = _view_or_404(request, group_id)
        group_leave(user=request.user, group=view.group)
        return Response(status=status.HTTP_204_NO_CONTENT)


class GroupInviteApi(APIView):
    """A new invite link for your group (owner only); the old link stops working at once."""

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "GroupInvite"

        invite_token = serializers.CharField()
        invite_url = serializers.URLField()

    @extend_schema(operation_id="groups_invite_regenerate", request=None, responses=OutputSerializer, tags=TAGS)
    def post(self, request, group_id: int):
        """A new invite link for the group: the old one stops working at once. Only its owner may (403 for other
        members)."""
        view = _view_or_404(request, group_id)
        group = group_invite_regenerate(user=request.user, group=view.group)
        return Response(
            self.OutputSerializer({"invite_token": group.invite_token, "invite_url": invite_url(request, group)}).data
        )


class GroupJoinApi(APIView):
    """Join a group with the token of its invite link."""

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "GroupJoinInput"

        token = JsonStringField(
            max_length=64, trim_whitespace=False, help_text="The group's invite token (the last part of its link)."
        )

    @extend_schema(
        operation_id="groups_join",
        request=InputSerializer,
        responses={201: GroupDetailSerializer, 200: GroupDetailSerializer},
        tags=TAGS,
    )
    def post(self, request):
        """Join the group the invite token opens: 201 when you joined, 200 when you were in it already. 404 for
        a token that opens no group (a replaced link, say); 400 when the group is full."""
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            result = group_join(user=request.user, token=serializer.validated_data["token"])
        except InviteInvalid:
            raise NotFound("This invite token opens no group: ask for a new link.")
        return Response(
            _detail_of(request, result.group.pk),
            status=status.HTTP_201_CREATED if result.joined else status.HTTP_200_OK,
        )


# Not recommendations.api's filters: that module imports the retrain pipeline (spark_engine) for its staff endpoint.
class GroupMoviesFilterSerializer(serializers.Serializer):
    class Meta:
        ref_name = "GroupMovieFilters"

    n = QueryIntegerField(
        required=False, default=20, min_value=1, max_value=LIST_COMPUTED, help_text="How many movies (1 to 100)."
    )
    genre = GenreField(
        required=False,
        allow_blank=True,
        help_text="Only movies of this genre, e.g. Comedy; an unknown name matches no movie.",
    )
    min_ratings = QueryIntegerField(
        required=False,
        default=DEFAULT_MIN_RATINGS,
        min_value=0,
        max_value=MAX_MIN_RATINGS,
        help_text="Only movies rated by at least this many people.",
    )
    aggregation = serializers.ChoiceField(
        choices=list(AGGREGATIONS),
        required=False,
        default=AVERAGE,
        help_text="average: the mean of the members' predicted stars; least_misery: the lowest member's prediction "
        "first (ties by the average).",
    )


class GroupMoviesSerializer(serializers.Serializer):
    """Documents the group list's shape (the body is built by `_movies_body`; tests check both agree)."""

    class Meta:
        ref_name = "GroupMovies"

    class MemberSerializer(serializers.Serializer):
        class Meta:
            ref_name = "GroupMoviesMember"

        username = serializers.CharField()
        display_name = serializers.CharField()
        counted = serializers.BooleanField(help_text="False: no rating the model knows yet, so not in the ranking.")

    class ItemSerializer(serializers.Serializer):
        class Meta:
            ref_name = "GroupMovie"

        class PredictionSerializer(serializers.Serializer):
            class Meta:
                ref_name = "GroupMemberPrediction"

            username = serializers.CharField()
            predicted_rating = serializers.FloatField(allow_null=True, help_text="null: the member is not counted.")

        rank = serializers.IntegerField()
        movie = MovieSummarySerializer()
        score = serializers.FloatField(allow_null=True, help_text="The ranking value; null for popular movies.")
        average = serializers.FloatField(allow_null=True, help_text="Mean of the counted members' predictions.")
        least_misery = serializers.FloatField(allow_null=True, help_text="Lowest counted member's prediction.")
        predictions = PredictionSerializer(many=True, help_text="Each member's predicted stars; [] for popular.")

    group = serializers.IntegerField()
    aggregation = serializers.ChoiceField(choices=list(AGGREGATIONS))
    personal = serializers.BooleanField(
        help_text="False: popular movies that no member rated or hid, because of `reason`."
    )
    reason = serializers.ChoiceField(choices=list(REASONS), allow_null=True, help_text="Why the list is not personal.")
    run = serializers.IntegerField(allow_null=True, help_text="The training run that predicted the stars.")
    members = MemberSerializer(many=True)
    results = ItemSerializer(many=True)


def _movies_body(request, view: GroupView, result: GroupMovies) -> dict:
    movies_url = api_url(request, "movie_list")
    not_counted = {m.user_id for m in result.not_counted}
    return {
        "group": view.group.pk,
        "aggregation": result.aggregation,
        "personal": result.personal,
        "reason": result.reason or None,
        "run": result.run.pk if result.run else None,
        "members": [
            {
                "username": m.username,
                "display_name": m.display_name,
                "counted": result.personal and m.user_id not in not_counted,
            }
            for m in view.members
        ],
        "results": [
            {
                "rank": rank,
                "movie": movie_summary(item.movie, movies_url=movies_url),
                "score": item.score,
                "average": item.average,
                "least_misery": item.least,
                "predictions": [{"username": p.member.username, "predicted_rating": p.stars} for p in item.predictions],
            }
            for rank, item in enumerate(result.items, start=1)
        ],
    }


class GroupMoviesApi(APIView):
    """What to watch together: movies no member rated or hid, by the average or least misery of your predictions."""

    @extend_schema(
        operation_id="groups_movies",
        parameters=[GroupMoviesFilterSerializer],
        responses=GroupMoviesSerializer,
        tags=TAGS,
    )
    def get(self, request, group_id: int):
        """Movies that no member has rated or hidden, best for the group first, with each member's predicted stars
        (never anyone's ratings). Reflects every member's latest ratings at once.

        Without a serving model, or while no member has a rating it knows, the most-rated movies no member rated
        or hid, with `personal` false and the `reason`.
        """
        view = _view_or_404(request, group_id)  # first: to anyone else the group does not exist
        params = GroupMoviesFilterSerializer(data=query_params(request))
        params.is_valid(raise_exception=True)
        data = params.validated_data
        result = group_movie_list(
            view=view,
            aggregation=data["aggregation"],
            genre=data.get("genre"),
            min_ratings=data["min_ratings"],
            limit=data["n"],
        )
        return Response(_movies_body(request, view, result))
