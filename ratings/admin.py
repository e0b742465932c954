from django.contrib import admin

from movierec_site.admin_utils import EstimatedCountPaginator

from .models import Rating


@admin.register(Rating)
class RatingAdmin(admin.ModelAdmin):
    """Fit for tens of millions of rows: raw id inputs, no full-table dropdowns or filters on
    foreign keys, one joined query per page and an estimated total."""

    list_display = ["id", "user", "movie", "value", "rated_at"]
    raw_id_fields = ["user", "movie"]
    list_select_related = ["user", "movie"]
    list_filter = ["value"]
    # Exact matches only: they use the (user, movie) and movie indexes.
    search_fields = ["=user__username", "=movie__id"]
    search_help_text = "Exact username or movie id."
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    ordering = ["-id"]
    date_hierarchy = None
