"""The recommendations page."""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_GET

from catalog.models import Genre
from ratings.selectors import wishlist_movie_ids

from .selectors import recommendation_list_for_user_fresh

RECOMMENDATIONS_SHOWN = 30
DEFAULT_MIN_RATINGS = 25


class RecommendationFilterForm(forms.Form):
    genre = forms.ModelChoiceField(
        label="Genre", queryset=Genre.objects.order_by("name"), required=False, to_field_name="name", empty_label="Any"
    )
    min_ratings = forms.IntegerField(
        label="Rated by at least",
        required=False,
        min_value=0,
        max_value=1_000_000,
        help_text="Leave out movies with fewer ratings than this (few ratings make shaky predictions).",
    )


@login_required
@require_GET
def recommendations(request):
    form = RecommendationFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    min_ratings = data.get("min_ratings")
    if min_ratings is None:
        min_ratings = DEFAULT_MIN_RATINGS
    result = recommendation_list_for_user_fresh(
        user=request.user, limit=RECOMMENDATIONS_SHOWN, genre=data.get("genre"), min_ratings=min_ratings
    )
    return render(
        request,
        "recommendations/recommendations.html",
        {
            "form": form,
            "result": result,
            "min_ratings": min_ratings,
            "wishlist_ids": wishlist_movie_ids(user=request.user),
        },
    )
