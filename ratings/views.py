"""Rate, unrate, wishlist and "not interested": plain form POSTs that also answer fetch() with JSON.

Without JavaScript each form posts, the view redirects back to `next` with a message. With
static/js/rating.js the same forms are sent by fetch with `X-Requested-With: fetch`, and the
view answers JSON instead: {"ok", "message", ...}; 400 with the message for invalid input.
The onboarding page after sign-up (`welcome`) is recommendations.views.welcome: it picks with the models.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from catalog.models import Movie

from . import selectors, services
from .templatetags.rating_controls import stars

RATINGS_PER_PAGE = 50
RATING_SORT_LABELS = {
    "date": "Newest first",
    "-date": "Oldest first",
    "value": "Highest rated",
    "-value": "Lowest rated",
    "title": "Title (A–Z)",
    "-title": "Title (Z–A)",
}


def _wants_json(request) -> bool:
    return request.headers.get("X-Requested-With") == "fetch"


def _back(request, default: str) -> HttpResponseRedirect:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = default
    return HttpResponseRedirect(target)


def _reply(request, movie: Movie, *, ok: bool, message: str, **data):
    if _wants_json(request):
        return JsonResponse({"ok": ok, "message": message, **data}, status=200 if ok else 400)
    (messages.success if ok else messages.error)(request, message)
    return _back(request, reverse("movie_detail", args=[movie.pk]))


@login_required
@require_POST
def rate(request, movie_id: int):
    """POST value=0.5..5 sets the rating; action=remove deletes it."""
    movie = get_object_or_404(Movie, pk=movie_id)
    if request.POST.get("action") == "remove":
        removed = services.rating_delete(user=request.user, movie=movie)
        name = movie.natural_title
        message = f"Removed your rating of {name}." if removed else f"You had not rated {name}."
        return _reply(request, movie, ok=True, message=message, value=None)
    value = request.POST.get("value", "")
    if value == "":
        return _reply(request, movie, ok=False, message="Pick a number of stars first (0.5 to 5).")
    try:
        rating = services.rating_upsert(user=request.user, movie=movie, value=value)
    except ValidationError as exc:
        return _reply(request, movie, ok=False, message=" ".join(exc.messages))
    label = stars(rating.value)
    return _reply(request, movie, ok=True, message=f"You rated {movie.natural_title} {label} stars.", value=label)


@login_required
@require_POST
def wishlist_toggle(request, movie_id: int):
    """POST action=add|remove."""
    movie = get_object_or_404(Movie, pk=movie_id)
    if request.POST.get("action") == "remove":
        services.wishlist_remove(user=request.user, movie=movie)
        message = f"Took {movie.natural_title} off your wishlist."
        return _reply(request, movie, ok=True, message=message, on_wishlist=False)
    services.wishlist_add(user=request.user, movie=movie)
    return _reply(request, movie, ok=True, message=f"Added {movie.natural_title} to your wishlist.", on_wishlist=True)


@login_required
@require_POST
def not_interested(request, movie_id: int):
    """POST action=add hides the movie from recommendations; action=remove shows it again."""
    movie = get_object_or_404(Movie, pk=movie_id)
    if request.POST.get("action") == "remove":
        services.not_interested_remove(user=request.user, movie=movie)
        message = f"{movie.natural_title} may be recommended again."
        return _reply(request, movie, ok=True, message=message, not_interested=False)
    services.not_interested_add(user=request.user, movie=movie)
    message = f"We won't recommend {movie.natural_title} again."
    return _reply(request, movie, ok=True, message=message, not_interested=True)


@login_required
@require_GET
def my_ratings(request):
    sort = request.GET.get("sort", "date")
    if sort not in RATING_SORT_LABELS:
        sort = "date"
    page = Paginator(selectors.rating_list_for_user(user=request.user, sort=sort), RATINGS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "ratings/my_ratings.html",
        {"page": page, "ratings": list(page.object_list), "sort": sort, "sort_labels": RATING_SORT_LABELS},
    )


@login_required
@require_GET
def wishlist(request):
    entries = list(selectors.wishlist_list_for_user(user=request.user))
    return render(request, "ratings/wishlist.html", {"entries": entries})


@login_required
@require_GET
def hidden_movies(request):
    entries = list(selectors.not_interested_list_for_user(user=request.user))
    return render(request, "ratings/hidden.html", {"entries": entries})
