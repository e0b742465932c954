from django.urls import include, path

from . import views

urlpatterns = [
    path("movies/<int:movie_id>/rate/", views.rate, name="rate"),
    path("movies/<int:movie_id>/wishlist/", views.wishlist_toggle, name="wishlist_toggle"),
    path("movies/<int:movie_id>/not-interested/", views.not_interested, name="not_interested"),
    path("ratings/", views.my_ratings, name="my_ratings"),
    path("ratings/import/", include("ratings.imports.urls")),
    path("wishlist/", views.wishlist, name="wishlist"),
    path("hidden/", views.hidden_movies, name="hidden_movies"),
]
