from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts.views import password_reset
from movierec_site import pages

admin.site.site_header = "MovieRec administration"
admin.site.site_title = "MovieRec admin"


class FaviconRedirect(RedirectView):
    """/favicon.ico, which browsers ask for by themselves: the site's icon (static/img/favicon.svg).

    Temporary (302): the static file's name carries its hash, so a cached permanent redirect would go stale.
    """

    def get_redirect_url(self, *args, **kwargs):
        return static("img/favicon.svg")


urlpatterns = [
    path("favicon.ico", FaviconRedirect.as_view(), name="favicon"),
    # /healthz, /readyz and /metrics (ops/urls.py).
    path("", include("ops.urls")),
    path("admin/", admin.site.urls),
    # REST API (movierec_site/api_urls.py); its OpenAPI 3 schema and Swagger UI (served from local static files).
    path("api/v1/", include("movierec_site.api_urls", namespace="api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api_schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api_schema"), name="api_docs"),
    # Log in/out, password change and reset: Django's views, our templates (templates/registration/).
    # Password reset first: the same view, rate limited (accounts/views.py).
    path("accounts/password_reset/", password_reset, name="password_reset"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("accounts.urls")),
    # Home, browse and movie pages: the catalogue with the visitor's ratings and recommendations (pages.py).
    path("", pages.home, name="home"),
    path("movies/", pages.movie_list, name="movie_list"),
    path("movies/<int:movie_id>/", pages.movie_detail, name="movie_detail"),
    path("", include("ratings.urls")),
    path("", include("recommendations.urls")),
    path("", include("yourdata.urls")),
    path("", include("movienight.urls")),
]

# A database outage answers 503 with Retry-After instead of 500 (ops.views.server_error).
handler500 = "ops.views.server_error"
