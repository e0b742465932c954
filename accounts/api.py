"""REST API for accounts: who am I, and API tokens (create with username and password, revoke).

Token log-ins go through Django's authenticate() with the HTTP request, so the site's log-in
rate limiting (django-axes) counts and locks them out exactly like the log-in form.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import authenticate
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from movierec_site.api import JsonStringField


class MeApi(APIView):
    """Who you are signed in as."""

    name = "Your account"

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "Me"

        id = serializers.IntegerField()
        username = serializers.CharField()
        email = serializers.EmailField(allow_blank=True)
        is_staff = serializers.BooleanField()

    @extend_schema(operation_id="me_retrieve", responses=OutputSerializer, tags=["account"])
    def get(self, request):
        """The signed-in user."""
        # OutputSerializer's shape, built directly: the serializer deep-copied its four fields on every request,
        # ~0.1 ms of the ~0.7 ms this answer costs (tests/api check that both agree).
        return Response(me_representation(request.user))


def me_representation(user) -> dict:
    """MeApi.OutputSerializer(user).data, as a plain dict."""
    return {"id": user.pk, "username": str(user.username), "email": str(user.email), "is_staff": bool(user.is_staff)}


class TokenApi(APIView):
    """Your API token: get it with your username and password, see whether you have one, revoke it.

    Send it as `Authorization: Token <key>` on every request; it works until you revoke it.
    """

    name = "API token"

    # Besides the site-wide anon/user rates, few token requests per client address (or user):
    # REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["auth_token"] (API_THROTTLE_AUTH_TOKEN).
    throttle_classes = [*APIView.throttle_classes, ScopedRateThrottle]
    throttle_scope = "auth_token"

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "TokenRequest"

        username = JsonStringField(max_length=150)
        password = JsonStringField(max_length=4096, trim_whitespace=False, style={"input_type": "password"})

    class StatusSerializer(serializers.Serializer):
        class Meta:
            ref_name = "TokenStatus"

        has_token = serializers.BooleanField(help_text="Whether you have a token (POST for it; never shown here).")
        created = serializers.DateTimeField(allow_null=True, help_text="When it was made; null without one.")

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "Token"

        token = serializers.CharField(help_text="Send it as `Authorization: Token <token>`.")
        user = serializers.IntegerField()
        username = serializers.CharField()

    def get_permissions(self):
        if self.request is not None and self.request.method in ("GET", "DELETE"):
            return [IsAuthenticated()]
        return [AllowAny()]

    def get_throttles(self):
        if self.request is not None and self.request.method == "GET":  # asks nothing of the password check
            return [throttle() for throttle in APIView.throttle_classes]
        return super().get_throttles()

    def get_serializer(self, *args, **kwargs):
        """What POST reads: the browsable API's form is made from it."""
        return self.InputSerializer(*args, **kwargs)

    @extend_schema(operation_id="token_retrieve", responses=StatusSerializer, tags=["account"])
    def get(self, request):
        """Whether you have an API token, and since when. The key itself only ever comes from POST."""
        token = Token.objects.filter(user=request.user).first()
        body = {"has_token": token is not None, "created": token.created if token else None}
        return Response(self.StatusSerializer(body).data)

    @extend_schema(
        operation_id="token_create",
        request=InputSerializer,
        responses={201: OutputSerializer, 200: OutputSerializer},
        auth=[],
        tags=["account"],
    )
    def post(self, request):
        """Exchange a username and password for your API token (201 new, 200 if you already had one).

        The same token is returned until you revoke it. Too many failed attempts lock the
        username out for a while (429), as on the log-in page.
        """
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        django_request = request._request
        user = authenticate(django_request, **serializer.validated_data)
        if getattr(django_request, "axes_locked_out", False):
            # Answer in the API's own error shape rather than the log-in page's lockout template.
            django_request.axes_locked_out = False
            raise Throttled(
                wait=int(settings.AXES_COOLOFF_TIME * 3600) if settings.AXES_COOLOFF_TIME else None,
                detail="Too many failed log-in attempts for this username; try again later.",
            )
        if user is None or not user.is_active:
            raise AuthenticationFailed("Unable to log in with the username and password given.")
        token, created = Token.objects.get_or_create(user=user)
        body = {"token": token.key, "user": user.pk, "username": user.get_username()}
        return Response(
            self.OutputSerializer(body).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )

    @extend_schema(
        operation_id="token_destroy",
        request=None,
        responses={204: OpenApiResponse(description="Token revoked (or there was none).")},
        tags=["account"],
    )
    def delete(self, request):
        """Revoke your API token; requests with it are refused from now on. Log in again for a new one."""
        Token.objects.filter(user=request.user).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)
