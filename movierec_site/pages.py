"""Pages that compose several apps' selectors: browse and movie detail show the catalogue (catalog)
with the visitor's ratings, wishlist and hidden movies (ratings), the predicted stars and similar
movies (recommendations); the home page shows popular movies (catalog) and the new arrivals, movies
the serving model has not learned yet (recommendations). They live at the project level so that no
app imports one above it.
"""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import redirect, render

from catalog.forms import MovieFilterForm
from catalog.selectors import (
    movie_get,
    movie_list_popular,
    movie_search,
    movie_search_count_kept,
    tag_counts_for_movie,
)
from movierec_site.admin_utils import KeysFirstPaginator
from ratings.selectors import not_interested_movie_ids, rating_get, rating_values_for_movies, wishlist_movie_ids
from recommendations.selectors import movie_list_new_arrivals, new_movie_ids, predicted_rating, similar_movie_list

MOVIES_PER_PAGE = 24
POPULAR_SHOWN = 12
NEW_ARRIVALS_SHOWN = 8


def home(request):
    if request.user.is_authenticated:
        return redirect("recommendations")
    return render(
        request,
        "catalog/home.html",
        {
            "popular": movie_list_popular(limit=POPULAR_SHOWN),
            "new_arrivals": movie_list_new_arrivals(limit=NEW_ARRIVALS_SHOWN),
        },
    )


def movie_list(request):
    form = MovieFilterForm(request.GET or None)
    filters = form.to_filters()
    # Deep pages by their keys first: page 1000 is an OFFSET of 23,976 movies (MOVIE_SORTS orders are total).
    paginator = KeysFirstPaginator(movie_search(filters=filters), MOVIES_PER_PAGE)
    kept = movie_search_count_kept(filters=filters)
    if kept is not None:
        paginator.count = kept  # a cached_property: set, it is not counted
    page = paginator.get_page(request.GET.get("page"))
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
            "is_new": movie.pk in new_movie_ids(),
        },
    )
