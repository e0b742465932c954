from django import forms

from recommendations.forms import RecommendationFilterForm

from .models import Group
from .ranking import AGGREGATIONS, AVERAGE


class GroupCreateForm(forms.Form):
    name = forms.CharField(
        label="Group name",
        max_length=Group._meta.get_field("name").max_length,
        help_text="Friends, family, the film club: whoever is watching together.",
    )


class GroupMoviesFilterForm(RecommendationFilterForm):
    """The recommendations page's filters (genre, minimum number of ratings), and how the group's stars combine."""

    aggregation = forms.ChoiceField(
        label="Rank by",
        choices=list(AGGREGATIONS.items()),
        required=False,
        initial=AVERAGE,
    )
    field_order = ["aggregation", "genre", "min_ratings"]
