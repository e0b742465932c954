from django import forms

from catalog.models import Genre

from .models import Group
from .ranking import AGGREGATIONS, AVERAGE

DEFAULT_MIN_RATINGS = 25  # as on the recommendations page: predictions for rarely rated movies are shaky


class GroupCreateForm(forms.Form):
    name = forms.CharField(
        label="Group name",
        max_length=Group._meta.get_field("name").max_length,
        help_text="Friends, family, the film club: whoever is watching together.",
    )


class GroupMoviesFilterForm(forms.Form):
    aggregation = forms.ChoiceField(
        label="Rank by",
        choices=list(AGGREGATIONS.items()),
        required=False,
        initial=AVERAGE,
    )
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
