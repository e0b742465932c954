from django.urls import path

from . import views

urlpatterns = [
    path("groups/", views.group_list, name="movienight_groups"),
    path("groups/<int:group_id>/", views.group_detail, name="movienight_group"),
    path("groups/<int:group_id>/leave/", views.group_leave_page, name="movienight_leave"),
    path("groups/<int:group_id>/delete/", views.group_delete_page, name="movienight_delete"),
    path("groups/<int:group_id>/invite/", views.group_invite_page, name="movienight_invite"),
    path("groups/join/<slug:token>/", views.group_join_page, name="movienight_join"),
]
