"""REST API for your data: export it (GET /me/export/) and delete your account (DELETE /me/ with your password)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import authenticate
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import Throttled, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api import MeApi as AccountMeApi
from movierec_site.api import JsonStringField
from ratings import takeaway

from .services import account_delete
from .views import takeaway_filename, takeaway_response


class MeApi(AccountMeApi):
    """Your account: who you are signed in as. Deleting it deletes everything in it."""

    # GET is accounts.api.MeApi's; DELETE (the account and its data) is this app's.

    class DeleteInputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "AccountDelete"

        password = JsonStringField(max_length=4096, trim_whitespace=False, style={"input_type": "password"})

    @extend_schema(
        operation_id="me_destroy",
        request=DeleteInputSerializer,
        responses={204: OpenApiResponse(description="The account and everything in it are deleted.")},
        tags=["account"],
    )
    def delete(self, request):
        """Delete your account and all of its data at once: ratings, wishlist, hidden movies, recommendations,
        API tokens and every session. Send your password as `{"password": "…"}`. There is no undo.

        A wrong password answers 400; too many wrong passwords lock the username out for a while (429), as
        on the log-in page.
        """
        serializer = self.DeleteInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        django_request = request._request
        user = authenticate(
            django_request, username=request.user.get_username(), password=serializer.validated_data["password"]
        )
        if getattr(django_request, "axes_locked_out", False):
            django_request.axes_locked_out = False
            raise Throttled(
                wait=int(settings.AXES_COOLOFF_TIME * 3600) if settings.AXES_COOLOFF_TIME else None,
                detail="Too many wrong passwords for this username; try again later.",
            )
        if user is None or user.pk != request.user.pk:
            raise ValidationError({"password": ["That is not your password."]})
        account_delete(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ExportApi(APIView):
    """Everything of yours as one JSON document: your ratings, wishlist and hidden movies."""

    name = "Your data export"

    @extend_schema(
        operation_id="my_export",
        responses={
            (200, "application/json"): OpenApiResponse(
                description=(
                    'One JSON document: {"format": "movierec-export", "version": 1, "exported_at", "user", '
                    '"ratings": [{movie_id, imdb_id, tmdb_id, title, year, rating, rated_at}], '
                    '"wishlist": [{…, added_at}], "hidden": [{…, hidden_at}]}; times ISO 8601 in UTC.'
                )
            )
        },
        tags=["account"],
    )
    def get(self, request):
        """Everything of yours: your ratings, wishlist and hidden movies, streamed as one JSON document."""
        return takeaway_response(
            takeaway.takeaway_json(user=request.user),
            filename=takeaway_filename(request.user, "export.json"),
            content_type="application/json",
        )
