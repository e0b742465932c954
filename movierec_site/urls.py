from django.contrib import admin
from django.urls import path

admin.site.site_header = "MovieRec administration"
admin.site.site_title = "MovieRec admin"

urlpatterns = [
    path("admin/", admin.site.urls),
]
