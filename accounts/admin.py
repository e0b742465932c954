from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import Count, OuterRef, Q, Subquery

from movierec_site.admin_utils import EstimatedCountPaginator, PlainRowsAdmin

from .models import User


class UserKindFilter(admin.SimpleListFilter):
    title = "kind"
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        return [("signup", "Signed up"), ("movielens", "MovieLens rater")]

    def queryset(self, request, queryset):
        if self.value() == "signup":
            return queryset.filter(movielens_id__isnull=True)
        if self.value() == "movielens":
            return queryset.filter(movielens_id__isnull=False)
        return queryset


@admin.register(User)
class UserAdmin(PlainRowsAdmin, DjangoUserAdmin):
    list_display = ["username", "email", "kind", "rating_count", "is_staff", "date_joined", "last_login"]
    list_filter = [UserKindFilter, "is_staff", "is_superuser", "is_active"]
    search_fields = ["^username", "=email"]  # the search box; get_search_results does the work
    search_help_text = "Start of a username, an exact e-mail address or MovieLens user id."
    readonly_fields = ["movielens_id", "last_login", "date_joined"]
    fieldsets = [*DjangoUserAdmin.fieldsets, ("MovieLens", {"fields": ["movielens_id"]})]
    paginator = EstimatedCountPaginator
    show_full_result_count = False

    def get_queryset(self, request):
        # A correlated subquery is evaluated only for the rows of the page, unlike a
        # GROUP BY over every rating. The Rating model is reached through its relation to User
        # (ratings sits above accounts and is not imported here).
        ratings = User._meta.get_field("ratings").related_model.objects
        counts = ratings.filter(user=OuterRef("pk")).order_by().values("user").annotate(n=Count("*")).values("n")
        return super().get_queryset(request).annotate(rating_count=Subquery(counts))

    def get_search_results(self, request, queryset, search_term):
        """Users whose username starts with the term, with exactly that e-mail, or with that MovieLens id.

        Each is an indexed lookup (accounts.models.User.Meta.indexes, the movielens_id unique index). Substrings
        ("username contains"), and the MovieLens id compared as text as Django's `=movielens_id` does, read all
        162,541 users of an ML-25M import, twice per page (the list and its count).
        """
        term = search_term.strip()
        if not term:
            return queryset, False
        condition = Q(username__istartswith=term) | Q(email__iexact=term)
        if term.isdigit() and int(term) < 2**31:
            condition |= Q(movielens_id=int(term))
        return queryset.filter(condition), False

    @admin.display(description="ratings")
    def rating_count(self, obj) -> int:
        return obj.rating_count or 0

    @admin.display(description="kind")
    def kind(self, obj: User) -> str:
        return "MovieLens rater" if obj.is_movielens else "signed up"
