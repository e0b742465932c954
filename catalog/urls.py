from django.urls import path

from . import views

# Browse and movie pages (movies/, movies/<id>/) are routed in movierec_site/urls.py: they show
# ratings and recommendations too (movierec_site/pages.py).
urlpatterns = [
    path("", views.home, name="home"),
]
