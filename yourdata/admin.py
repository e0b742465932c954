"""The user admin, with deletion that is the same full clean-up as a person deleting their own account.

accounts registers the user admin; deleting a user must also remove their rows of training runs, their
sessions and cached lists, which live in apps above accounts. So this app, which sits above them all,
registers the user admin again with the deletion it owns.
"""

from django.contrib import admin

from accounts.admin import UserAdmin
from accounts.models import User

from .services import account_delete, accounts_delete


class UserAdminWithFullDeletion(UserAdmin):
    # The delete page and the "delete selected" action.
    def delete_model(self, request, obj):
        account_delete(user=obj)

    def delete_queryset(self, request, queryset):
        accounts_delete(user_ids=list(queryset.values_list("pk", flat=True)))


admin.site.unregister(User)
admin.site.register(User, UserAdminWithFullDeletion)
