"""The home page for visitors. Browse and movie pages show the visitor's ratings and predictions from
the apps above the catalogue, so they are composed in movierec_site.pages."""

from __future__ import annotations

from django.shortcuts import redirect, render

from .selectors import movie_list_popular


def home(request):
    if request.user.is_authenticated:
        return redirect("recommendations")
    return render(request, "catalog/home.html", {"popular": movie_list_popular(limit=12)})
