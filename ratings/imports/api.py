"""REST API for importing your ratings: upload a file (a preview), read its rows, confirm, undo.

    POST   /me/rating-imports/                  multipart `file` (+ `format`) -> 201, the preview
    GET    /me/rating-imports/                  your imports, newest first
    GET    /me/rating-imports/{id}/             one import: status and counts
    DELETE /me/rating-imports/{id}/             drop a preview
    GET    /me/rating-imports/{id}/items/       its rows (?match=choose|not_found|matched|skipped)
    POST   /me/rating-imports/{id}/confirm/     apply it, with choices and conflict decisions
    POST   /me/rating-imports/{id}/undo/        undo an applied import

Another user's import is a 404, as if it did not exist. Interfaces only: ratings.imports.services
does the work, with the same rules as the site's pages.
"""

from __future__ import annotations

from django.db.models import Count, Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.api import MAX_MOVIE_ID
from movierec_site.api import ApiPagination, JsonIntegerField, api_url, query_params
from ratings.models import Rating

from . import formats, selectors, services
from .models import RatingImport, RatingImportItem

MAX_IMPORT_ID = 2**63 - 1
UPLOAD_SLACK = 64 * 1024


def _import_or_404(request, import_id: int) -> RatingImport:
    rating_import = (
        selectors.rating_import_get(user=request.user, import_id=import_id) if 0 < import_id <= MAX_IMPORT_ID else None
    )
    if rating_import is None:
        raise NotFound(f"There is no rating import with id {import_id}.")
    return rating_import


# --- Output ---


class MatchCountsSerializer(serializers.Serializer):
    class Meta:
        ref_name = "RatingImportMatchCounts"

    matched = serializers.IntegerField(help_text="Rows matched to one movie.")
    choose = serializers.IntegerField(help_text="Rows that fit several movies: choose one in `confirm`.")
    not_found = serializers.IntegerField(help_text="Rows no movie fits (suggestions may be offered).")
    skipped = serializers.IntegerField(help_text="Rows that are not film ratings or have an invalid rating.")


class AppliedCountsSerializer(serializers.Serializer):
    class Meta:
        ref_name = "RatingImportAppliedCounts"

    created = serializers.IntegerField(default=0, help_text="New ratings.")
    updated = serializers.IntegerField(default=0, help_text="Ratings that replaced yours.")
    kept = serializers.IntegerField(default=0, help_text="Conflicts where yours was kept.")
    unchanged = serializers.IntegerField(default=0, help_text="The same value as yours: nothing to do.")
    duplicate = serializers.IntegerField(default=0, help_text="Rows for a movie another row rated more recently.")
    left_out = serializers.IntegerField(default=0, help_text="Chosen movies that no longer exist.")


class UndoneCountsSerializer(serializers.Serializer):
    class Meta:
        ref_name = "RatingImportUndoneCounts"

    removed = serializers.IntegerField(default=0, help_text="Ratings the import had added, removed.")
    restored = serializers.IntegerField(default=0, help_text="Ratings the import had replaced, put back.")
    changed_since = serializers.IntegerField(default=0, help_text="Ratings you changed after the import, left.")


class RatingImportSerializer(serializers.Serializer):
    class Meta:
        ref_name = "RatingImport"

    id = serializers.IntegerField()
    format = serializers.ChoiceField(choices=RatingImport.Format.choices)
    filename = serializers.CharField(allow_blank=True)
    encoding = serializers.CharField(allow_blank=True, help_text="How the file was read: utf-8, windows-1252, …")
    status = serializers.ChoiceField(
        choices=RatingImport.Status.choices, help_text="preview: nothing applied yet; applied; undone."
    )
    created_at = serializers.DateTimeField()
    applied_at = serializers.DateTimeField(allow_null=True)
    undone_at = serializers.DateTimeField(allow_null=True)
    counts = MatchCountsSerializer(help_text="Rows by how they matched.")
    applied = AppliedCountsSerializer(source="applied_counts", help_text="What confirming did (zeros before).")
    undone = UndoneCountsSerializer(source="undone_counts", help_text="What undo did (zeros before).")
    url = serializers.SerializerMethodField(help_text="This import (DELETE there drops a preview).")
    items_url = serializers.SerializerMethodField(help_text="Its rows, and how each matched.")
    confirm_url = serializers.SerializerMethodField(help_text="POST here to apply the preview.")
    undo_url = serializers.SerializerMethodField(help_text="POST here to undo the applied import.")

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, rating_import: RatingImport) -> str:
        return api_url(self.context.get("request"), "my_rating_import_detail", rating_import.pk)

    @extend_schema_field(OpenApiTypes.URI)
    def get_items_url(self, rating_import: RatingImport) -> str:
        return api_url(self.context.get("request"), "my_rating_import_items", rating_import.pk)

    @extend_schema_field(OpenApiTypes.URI)
    def get_confirm_url(self, rating_import: RatingImport) -> str:
        return api_url(self.context.get("request"), "my_rating_import_confirm", rating_import.pk)

    @extend_schema_field(OpenApiTypes.URI)
    def get_undo_url(self, rating_import: RatingImport) -> str:
        return api_url(self.context.get("request"), "my_rating_import_undo", rating_import.pk)


def _with_counts(rating_import: RatingImport) -> RatingImport:
    if not hasattr(rating_import, "counts"):
        rating_import.counts = selectors.rating_import_counts(rating_import=rating_import)
    return rating_import


def _render(request, rating_import: RatingImport, code: int = status.HTTP_200_OK) -> Response:
    return Response(RatingImportSerializer(_with_counts(rating_import), context={"request": request}).data, status=code)


class MovieBriefSerializer(serializers.Serializer):
    class Meta:
        ref_name = "RatingImportMovie"

    id = serializers.IntegerField()
    title = serializers.CharField()
    year = serializers.IntegerField(allow_null=True)


class StarsAtSerializer(serializers.Serializer):
    class Meta:
        ref_name = "RatingImportStarsAt"

    value = serializers.FloatField(help_text="0.5 to 5 stars.")
    rated_at = serializers.DateTimeField()


class RatingImportItemSerializer(serializers.Serializer):
    class Meta:
        ref_name = "RatingImportItem"

    id = serializers.IntegerField(help_text="Row id: name it in `confirm` to choose a movie or settle a conflict.")
    line = serializers.IntegerField(help_text="Line of the file (CSV) or position in the list (JSON).")
    title = serializers.CharField(allow_blank=True)
    year = serializers.IntegerField(allow_null=True)
    source_id = serializers.CharField(allow_blank=True, help_text="The file's id of the movie, e.g. tt0114709.")
    value = serializers.FloatField(allow_null=True, help_text="Stars (0.5 to 5); null for skipped rows.")
    rated_at = serializers.DateTimeField(allow_null=True)
    match = serializers.ChoiceField(choices=RatingImportItem.Match.choices)
    reason = serializers.CharField(allow_blank=True)
    movie = MovieBriefSerializer(allow_null=True, help_text="The matched (or, once applied, chosen) movie.")
    candidates = MovieBriefSerializer(
        many=True, help_text="choose: the movies it may be; not_found: near titles you may pick. Else empty."
    )
    mine = StarsAtSerializer(
        allow_null=True, help_text="Your current rating of the matched movie; a conflict when its value differs."
    )
    outcome = serializers.ChoiceField(choices=RatingImportItem.Outcome.choices, help_text="Once applied.")
    previous = StarsAtSerializer(allow_null=True, help_text="Once applied: the rating this row replaced.")


def _movie_brief(movie) -> dict | None:
    return None if movie is None else {"id": movie.pk, "title": movie.title, "year": movie.year}


def _item_rows(items: list[RatingImportItem], *, user) -> list[dict]:
    movies = selectors.movies_by_id(movie_ids={m for item in items for m in item.candidates})
    mine = {
        movie_id: {"value": value, "rated_at": rated_at}
        for movie_id, value, rated_at in Rating.objects.filter(
            user=user, movie_id__in=[item.movie_id for item in items if item.movie_id]
        ).values_list("movie_id", "value", "rated_at")
    }
    return [
        {
            "id": item.pk,
            "line": item.line,
            "title": item.title,
            "year": item.year,
            "source_id": item.source_id,
            "value": item.value,
            "rated_at": item.rated_at,
            "match": item.match,
            "reason": item.reason,
            "movie": _movie_brief(item.movie),
            "candidates": [_movie_brief(movies[m]) for m in item.candidates if m in movies],
            "mine": mine.get(item.movie_id),
            "outcome": item.outcome,
            "previous": (
                {"value": item.previous_value, "rated_at": item.previous_rated_at}
                if item.previous_value is not None
                else None
            ),
        }
        for item in items
    ]


# --- Views ---


class RatingImportListApi(ListAPIView):
    """Bring in your ratings from IMDb, Letterboxd, Trakt or a MovieRec export: upload the file for a preview,
    then confirm it (or undo it later)."""

    pagination_class = ApiPagination
    serializer_class = RatingImportSerializer
    parser_classes = [MultiPartParser]
    name = "Your rating imports"

    class UploadSerializer(serializers.Serializer):
        class Meta:
            ref_name = "RatingImportUpload"

        file = serializers.FileField(
            allow_empty_file=True,  # "The file is empty." comes from the importer, as the site says it
            help_text=f"The export file (CSV or JSON), at most {formats.MAX_BYTES // 2**20} MB and "
            f"{formats.MAX_ROWS:,} ratings: IMDb's ratings CSV, Letterboxd's ratings.csv, Trakt's ratings JSON "
            "or a MovieRec export.",
        )
        format = serializers.ChoiceField(
            choices=[key for key, _ in formats.FORMAT_CHOICES],
            required=False,
            default=formats.AUTO,
            help_text="auto (the default) finds the format from the file's header or JSON shape.",
        )

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular building the schema
            return RatingImport.objects.none()
        return selectors.rating_import_list_for_user(user=self.request.user).annotate(
            **{
                f"count_{match}": Count("items", filter=Q(items__match=match))
                for match in RatingImportItem.Match.values
            }
        )

    def get_serializer_class(self):
        # POST reads UploadSerializer (the browsable API makes its upload form from it); GET lists imports.
        if self.request is not None and self.request.method == "POST":
            return self.UploadSerializer
        return super().get_serializer_class()

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        for rating_import in page or ():
            rating_import.counts = {
                match: getattr(rating_import, f"count_{match}") for match in RatingImportItem.Match.values
            }
        return page

    @extend_schema(operation_id="my_rating_imports_list", tags=["rating imports"])
    def get(self, request, *args, **kwargs):
        """Your rating imports, newest first, with how their rows matched."""
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="my_rating_imports_create",
        request={"multipart/form-data": UploadSerializer},
        responses={201: RatingImportSerializer},
        tags=["rating imports"],
    )
    def post(self, request):
        """Upload an export file: 201 with the preview. Nothing changes in your ratings until you confirm it.

        Read the rows with `GET …/items/`, then `POST …/confirm/`. A file that cannot be imported
        (empty, binary, a zip, over the limits, not the format it claims) is a 400 whose message says
        why and which columns were expected.
        """
        try:
            too_large = int(request.META.get("CONTENT_LENGTH") or 0) > formats.MAX_BYTES + UPLOAD_SLACK
        except ValueError:
            too_large = False
        if too_large:
            raise ValidationError(
                {"file": [f"The file is larger than {formats.MAX_BYTES // 2**20} MB, the limit."]}, code="too_large"
            )
        serializer = self.UploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        upload = serializer.validated_data["file"]
        if upload.size > formats.MAX_BYTES:
            raise ValidationError({"file": [f"The file is larger than {formats.MAX_BYTES // 2**20} MB, the limit."]})
        rating_import = services.rating_import_preview(
            user=request.user,
            data=upload.read(),
            filename=upload.name or "",
            format=serializer.validated_data["format"],
        )
        return _render(request, rating_import, status.HTTP_201_CREATED)


class RatingImportDetailApi(APIView):
    """One of your rating imports: its status, how its rows matched, and links to its rows, confirm and undo."""

    name = "Rating import"

    @extend_schema(operation_id="my_rating_imports_retrieve", responses=RatingImportSerializer, tags=["rating imports"])
    def get(self, request, import_id: int):
        """One of your imports: its status and how its rows matched."""
        return _render(request, _import_or_404(request, import_id))

    @extend_schema(
        operation_id="my_rating_imports_destroy",
        responses={204: OpenApiResponse(description="Preview dropped.")},
        tags=["rating imports"],
    )
    def delete(self, request, import_id: int):
        """Drop a preview you do not want to apply (400 for an applied or undone import: undo it instead)."""
        services.rating_import_discard(rating_import=_import_or_404(request, import_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class RatingImportItemListApi(ListAPIView):
    """The rows of one of your rating imports, by line, and how each matched a movie."""

    pagination_class = ApiPagination
    serializer_class = RatingImportItemSerializer
    name = "Rating import rows"

    class FilterSerializer(serializers.Serializer):
        class Meta:
            ref_name = "RatingImportItemFilters"

        match = serializers.ChoiceField(
            choices=RatingImportItem.Match.values, required=False, help_text="Only rows that matched this way."
        )

    @extend_schema(operation_id="my_rating_imports_items", parameters=[FilterSerializer], tags=["rating imports"])
    def get(self, request, *args, **kwargs):
        """The import's rows by line: how each matched, the movies to choose from, your current rating of it."""
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular building the schema
            return RatingImportItem.objects.none()
        rating_import = _import_or_404(self.request, self.kwargs["import_id"])
        params = self.FilterSerializer(data=query_params(self.request))
        params.is_valid(raise_exception=True)
        return selectors.rating_import_items(rating_import=rating_import, match=params.validated_data.get("match"))

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        rows = _item_rows(list(page), user=request.user)
        return self.get_paginated_response(RatingImportItemSerializer(rows, many=True).data)


class RatingImportConfirmApi(APIView):
    """Apply a rating import's preview to your ratings, choosing movies for rows that need it."""

    name = "Confirm"

    def get_serializer(self, *args, **kwargs):
        """What POST reads: the browsable API makes its form from it."""
        return self.InputSerializer(*args, **kwargs)

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "RatingImportConfirm"

        class ChoiceSerializer(serializers.Serializer):
            class Meta:
                ref_name = "RatingImportChoice"

            item = JsonIntegerField(min_value=1, max_value=MAX_IMPORT_ID, help_text="Row id (from items).")
            movie = JsonIntegerField(
                min_value=1,
                max_value=MAX_MOVIE_ID,
                allow_null=True,
                help_text="One of the row's candidates; null: leave it out.",
            )

        class ConflictSerializer(serializers.Serializer):
            class Meta:
                ref_name = "RatingImportConflictDecision"

            item = JsonIntegerField(min_value=1, max_value=MAX_IMPORT_ID, help_text="Row id (from items).")
            keep = serializers.ChoiceField(choices=[selectors.MINE, selectors.THEIRS])

        conflict_policy = serializers.ChoiceField(
            choices=list(selectors.CONFLICT_POLICIES),
            required=False,
            default=selectors.NEWEST,
            help_text="For movies you rated differently: newest (the default: the later-dated rating wins; a row "
            "without a date keeps yours), mine, or theirs.",
        )
        choices = ChoiceSerializer(
            many=True, required=False, default=list, max_length=formats.MAX_ROWS, help_text="Movies for rows to choose."
        )
        conflicts = ConflictSerializer(
            many=True, required=False, default=list, max_length=formats.MAX_ROWS, help_text="Per-row exceptions."
        )

        def validate(self, data):
            for key in ("choices", "conflicts"):
                rows = [entry["item"] for entry in data[key]]
                if len(rows) != len(set(rows)):
                    raise serializers.ValidationError({key: ["Name each row at most once."]})
            return data

    @extend_schema(
        operation_id="my_rating_imports_confirm",
        request=InputSerializer,
        responses=RatingImportSerializer,
        tags=["rating imports"],
    )
    def post(self, request, import_id: int):
        """Apply a preview to your ratings, all at once; your recommendations follow at once.

        Matched rows are applied, and rows to choose (or not found) for which `choices` names one of
        their candidates. Rows to choose that are not named are left out. Ratings keep the file's
        dates. 400 if the import is not a preview or a choice names a row or movie it cannot.
        """
        rating_import = _import_or_404(request, import_id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        rating_import = services.rating_import_apply(
            rating_import=rating_import,
            choices={entry["item"]: entry["movie"] for entry in data["choices"]},
            conflict_policy=data["conflict_policy"],
            conflict_overrides={entry["item"]: entry["keep"] for entry in data["conflicts"]},
        )
        return _render(request, rating_import)


class RatingImportUndoApi(APIView):
    """Undo an applied rating import."""

    name = "Undo"

    @extend_schema(
        operation_id="my_rating_imports_undo", request=None, responses=RatingImportSerializer, tags=["rating imports"]
    )
    def post(self, request, import_id: int):
        """Undo an applied import: the ratings it added go, the ones it replaced come back.

        Ratings you changed after the import stay as you left them (counted in `undone.changed_since`).
        400 if the import is not applied.
        """
        return _render(request, services.rating_import_undo(rating_import=_import_or_404(request, import_id)))
