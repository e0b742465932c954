from django.urls import path

from . import views

urlpatterns = [
    path("", views.rating_import_start, name="rating_import_start"),
    path("<int:import_id>/", views.rating_import_detail, name="rating_import_detail"),
    path("<int:import_id>/confirm/", views.rating_import_confirm, name="rating_import_confirm"),
    path("<int:import_id>/undo/", views.rating_import_undo, name="rating_import_undo"),
    path("<int:import_id>/discard/", views.rating_import_discard, name="rating_import_discard"),
]
