"""The browse page's filter form (the page itself, which shows the visitor's ratings too, is movierec_site.pages)."""

from __future__ import annotations

from django import forms
from django.utils import timezone

from .models import Genre
from .selectors import MOVIE_SORTS, MovieFilters, decade_choices

SORT_LABELS = {
    "popular": "Most rated",
    "rating": "Highest average",
    "newest": "Newest",
    "oldest": "Oldest",
    "title": "Title (A–Z)",
}
assert set(SORT_LABELS) == set(MOVIE_SORTS)


class MovieFilterForm(forms.Form):
    q = forms.CharField(label="Title", required=False, max_length=200)
    genre = forms.ModelChoiceField(
        label="Genre", queryset=Genre.objects.order_by("name"), required=False, to_field_name="name", empty_label="Any"
    )
    decade = forms.TypedChoiceField(label="Decade", required=False, coerce=int, empty_value=None)
    sort = forms.ChoiceField(label="Sort by", required=False, choices=list(SORT_LABELS.items()))
    min_ratings = forms.IntegerField(label="At least … ratings", required=False, min_value=0, max_value=1_000_000)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        decades = decade_choices(until_year=timezone.now().year)
        self.fields["decade"].choices = [("", "Any")] + [(d, f"{d}s") for d in decades]

    def to_filters(self) -> MovieFilters:
        data = self.cleaned_data if self.is_valid() else {}
        return MovieFilters(
            query=(data.get("q") or "").strip(),
            genre=data.get("genre"),
            decade=data.get("decade"),
            sort=data.get("sort") or "popular",
            min_ratings=data.get("min_ratings"),
        )
