"""Catalogue forms: the browse page's filter form (the page itself, which shows the visitor's ratings too, is
movierec_site.pages) and the admin's movie form, which checks what staff type before it reaches the catalogue."""

from __future__ import annotations

import re

from django import forms
from django.db.models import Max
from django.forms.models import ModelChoiceIterator
from django.utils import formats, timezone
from django.utils.html import escape
from django.utils.safestring import mark_safe

from .models import MAX_MOVIE_ID, Genre, Movie, Tag
from .selectors import MOVIE_SORTS, MovieFilters, decade_choices, genre_names
from .widgets import PlainNumberInput, PlainSelect, PlainTextInput

SORT_LABELS = {
    "popular": "Most rated",
    "rating": "Highest average",
    "newest": "Newest",
    "oldest": "Oldest",
    "title": "Title (A–Z)",
}
assert set(SORT_LABELS) == set(MOVIE_SORTS)


class _GenreNames(ModelChoiceIterator):
    """The choices of GenreChoiceField: the cached names, no query (ModelChoiceIterator reads the queryset)."""

    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for name in genre_names():
            yield (name, name)

    def __len__(self) -> int:
        return len(genre_names()) + (self.field.empty_label is not None)


class GenreChoiceField(forms.ModelChoiceField):
    """A genre chosen by name, for the filter forms. Its <select> lists the cached genre names
    (catalog.selectors.genre_names), so drawing the form costs no query; a submitted name is looked up as
    ModelChoiceField does (one indexed query), so the cleaned Genre, and its movie count, are current."""

    iterator = _GenreNames
    widget = PlainSelect

    def __init__(self, **kwargs):
        kwargs.setdefault("empty_label", "Any")
        super().__init__(queryset=Genre.objects.all(), to_field_name="name", **kwargs)


class MovieFilterForm(forms.Form):
    # Plain* widgets: the markup of Django's widget templates without the template engine (catalog.widgets).
    q = forms.CharField(label="Title", required=False, max_length=200, widget=PlainTextInput)
    genre = GenreChoiceField(label="Genre", required=False)
    decade = forms.TypedChoiceField(label="Decade", required=False, coerce=int, empty_value=None, widget=PlainSelect)
    sort = forms.ChoiceField(label="Sort by", required=False, choices=list(SORT_LABELS.items()), widget=PlainSelect)
    min_ratings = forms.IntegerField(
        label="At least … ratings", required=False, min_value=0, max_value=1_000_000, widget=PlainNumberInput
    )

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


FIRST_FILM_YEAR = 1870  # Janssen's "Passage de Vénus" (1874) and friends; nothing earlier is a movie
# Movies added by staff get ids from here on, far above MovieLens's own (about 300,000 in 2024), so a later
# MovieLens import never takes one of them for its own movie with the same movieId.
LOCAL_MOVIE_ID_START = 1_000_000_000
IMDB_ID = re.compile(r"(?:tt)?([0-9]{1,10})", re.IGNORECASE)


def movie_id_next_local() -> int:
    """The next free id of the staff range (LOCAL_MOVIE_ID_START and up)."""
    top = Movie.objects.filter(pk__gte=LOCAL_MOVIE_ID_START).aggregate(top=Max("pk"))["top"]
    return (top or LOCAL_MOVIE_ID_START - 1) + 1


class TagTable(forms.CheckboxSelectMultiple):
    """A movie's tags as a table, each with a checkbox to remove it, written in Python.

    The admin showed them as an inline formset: a form per tag (copied fields, hidden id and movie inputs, a delete
    checkbox) and three read-only cells each looked up and formatted through the admin's helpers, about 0.8 ms of
    CPU per tag; the most-rated movie of an ML-25M catalogue has 47 tags, the most-tagged of ml-latest-small 181."""

    tags: list = []  # set per form by MovieAdminForm (fields, and their widgets, are copied for every form)

    def render(self, name, value, attrs=None, renderer=None):
        if not self.tags:
            return mark_safe('<p class="help">No tags yet.</p>')
        chosen = {str(v) for v in (value or ())}
        rows = []
        for tag in self.tags:
            tagged_at = formats.localize(timezone.template_localtime(tag.tagged_at))
            checked = " checked" if str(tag.pk) in chosen else ""
            rows.append(
                f'<tr><td><input type="checkbox" name="{escape(name)}" value="{tag.pk}" id="id_{escape(name)}_{tag.pk}"'
                f'{checked}></td><td><label for="id_{escape(name)}_{tag.pk}">{escape(tag.tag)}</label></td>'
                f"<td>{escape(tag.user.username)}</td><td>{escape(tagged_at)}</td></tr>"
            )
        return mark_safe(
            '<table class="tag-table"><thead><tr><th scope="col">Remove</th><th scope="col">Tag</th>'
            '<th scope="col">User</th><th scope="col">Tagged at</th></tr></thead><tbody>'
            + "".join(rows)
            + "</tbody></table>"
        )


class MovieAdminForm(forms.ModelForm):
    remove_tags = forms.TypedMultipleChoiceField(
        label="Tags",
        required=False,
        coerce=int,
        widget=TagTable,
        help_text="Tick the tags to remove when you save; add new ones under “New tags”.",
    )
    id = forms.IntegerField(
        label="MovieLens movieId",
        required=False,
        min_value=1,
        max_value=MAX_MOVIE_ID,
        help_text=f"Empty for a movie MovieLens does not have: it gets the next id from {LOCAL_MOVIE_ID_START:,}.",
    )

    class Meta:
        model = Movie
        fields = ["id", "title", "year", "genres", "imdb_id", "tmdb_id"]
        help_texts = {"imdb_id": "As on IMDb, tt0114709, or its digits (0114709).", "tmdb_id": "From themoviedb.org."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        tags = []
        if not self.instance._state.adding:
            tags = list(
                Tag.objects.filter(movie_id=self.instance.pk).select_related("user").order_by("-tagged_at", "-pk")
            )
        self.fields["remove_tags"].choices = [(tag.pk, tag.tag) for tag in tags]
        self.fields["remove_tags"].widget.tags = tags

    def clean_id(self) -> int | None:
        movie_id = self.cleaned_data.get("id")
        if movie_id is not None:
            other = Movie.objects.filter(pk=movie_id).exclude(pk=self.instance.pk).first()
            if other is not None:
                raise forms.ValidationError(f"“{other.title}” already has this id.")
        return movie_id

    def clean_title(self) -> str:
        title = " ".join(self.cleaned_data["title"].split())  # required, so never empty here
        if not title:
            raise forms.ValidationError("A title is required.")
        return title

    def clean_year(self) -> int | None:
        year = self.cleaned_data.get("year")
        last = timezone.now().year + 1
        if year is not None and not FIRST_FILM_YEAR <= year <= last:
            raise forms.ValidationError(f"A year from {FIRST_FILM_YEAR} to {last}.")
        return year

    def clean_imdb_id(self) -> str:
        raw = (self.cleaned_data.get("imdb_id") or "").strip()
        if not raw:
            return ""
        match = IMDB_ID.fullmatch(raw)
        if match is None:
            raise forms.ValidationError("An IMDb title id looks like tt0114709 (or its digits, 0114709).")
        imdb_id = match.group(1).zfill(7)  # IMDb pads to 7 digits, as MovieLens's links.csv stores them
        if "imdb_id" in self.changed_data:
            self._refuse_duplicate(Movie.objects.filter(imdb_id=imdb_id), "IMDb id", f"tt{imdb_id}")
        return imdb_id

    def clean_tmdb_id(self) -> int | None:
        tmdb_id = self.cleaned_data.get("tmdb_id")
        if tmdb_id is not None and "tmdb_id" in self.changed_data:
            self._refuse_duplicate(Movie.objects.filter(tmdb_id=tmdb_id), "TMDB id", str(tmdb_id))
        return tmdb_id

    def clean(self) -> dict:
        cleaned = super().clean()
        if self.instance._state.adding and cleaned.get("id") is None and not self.errors:
            cleaned["id"] = movie_id_next_local()
        return cleaned

    def _refuse_duplicate(self, movies, what: str, shown: str) -> None:
        # Only when the field changed: a catalogue imported with a duplicate should not block other edits.
        other = movies.exclude(pk=self.instance.pk).order_by("pk").first()
        if other is not None:
            raise forms.ValidationError(f"{what} {shown} already belongs to “{other.title}” (movie {other.pk}).")
