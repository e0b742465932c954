from django.urls import path

from . import views

urlpatterns = [
    path("recommendations/", views.recommendations, name="recommendations"),
    path("welcome/", views.welcome, name="welcome"),
    path("recommendations/flavour/", views.recommendations_flavour, name="recommendations_flavour"),
    path("staff/training-runs/", views.staff_runs, name="staff_runs"),
    path("staff/training-runs/retrain/", views.staff_retrain, name="staff_retrain"),
]
