"""Browse and movie pages."""

from __future__ import annotations

from django import forms
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone

from ratings.selectors import not_interested_movie_ids, rating_get, rating_values_for_movies, wishlist_movie_ids
from recommendations.selectors import predicted_rating, similar_movie_list

from .models import Genre
from .selectors import (
    MOVIE_SORTS,
    MovieFilters,
    decade_choices,
    movie_get,
    movie_list_popular,
    movie_search,
    tag_counts_for_movie,
)

MOVIES_PER_PAGE = 24
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


def home(request):
    if request.user.is_authenticated:
        return redirect("recommendations")
    return render(request, "catalog/home.html", {"popular": movie_list_popular(limit=12)})


def movie_list(request):
    form = MovieFilterForm(request.GET or None)
    filters = form.to_filters()
    page = Paginator(movie_search(filters=filters), MOVIES_PER_PAGE).get_page(request.GET.get("page"))
    movies = list(page.object_list)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "catalog/movie_list.html",
        {
            "form": form,
            "filters": filters,
            "page": page,
            "movies": movies,
            "my_ratings": rating_values_for_movies(user=request.user, movie_ids=[m.pk for m in movies]),
            "query_string": query.urlencode(),
        },
    )


def movie_detail(request, movie_id: int):
    movie = movie_get(movie_id=movie_id)
    if movie is None:
        raise Http404("No such movie.")
    user = request.user
    rating = rating_get(user=user, movie_id=movie.pk)
    return render(
        request,
        "catalog/movie_detail.html",
        {
            "movie": movie,
            "genres": list(movie.genres.all()),
            "tags": tag_counts_for_movie(movie=movie),
            "rating": rating,
            "predicted": predicted_rating(user=user, movie=movie) if rating is None else None,
            "on_wishlist": movie.pk in wishlist_movie_ids(user=user),
            "not_interested": movie.pk in not_interested_movie_ids(user=user),
            "similar": list(similar_movie_list(movie=movie, limit=12)),
        },
    )
