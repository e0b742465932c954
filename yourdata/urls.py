from django.urls import path

from . import views

urlpatterns = [
    path("accounts/data/", views.your_data, name="your_data"),
    *[
        path(f"accounts/data/{name}", views.download, {"name": name}, name=f"download_{name.replace('.', '_')}")
        for name in views.DOWNLOADS
    ],
    path("accounts/delete/", views.delete_account, name="delete_account"),
    path("ratings/about/", views.about_ratings, name="about_ratings"),
]
