from django import forms

from catalog.forms import GenreChoiceField

# Predictions for rarely rated movies are shaky: lists leave them out unless a person asks otherwise.
DEFAULT_MIN_RATINGS = 25


class RecommendationFilterForm(forms.Form):
    genre = GenreChoiceField(label="Genre", required=False)  # its choices cached, its <select> drawn in Python
    min_ratings = forms.IntegerField(
        label="Rated by at least",
        required=False,
        min_value=0,
        max_value=1_000_000,
        help_text="Leave out movies with fewer ratings than this (few ratings make shaky predictions).",
    )
