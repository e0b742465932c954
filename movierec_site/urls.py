from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "MovieRec administration"
admin.site.site_title = "MovieRec admin"

urlpatterns = [
    path("admin/", admin.site.urls),
    # Log in/out, password change and reset: Django's views, our templates (templates/registration/).
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("accounts.urls")),
    path("", include("catalog.urls")),
    path("", include("ratings.urls")),
    path("", include("recommendations.urls")),
]
