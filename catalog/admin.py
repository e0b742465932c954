from django.contrib import admin
from django.db.models import Count

from .models import Genre, Movie, Tag


class DecadeFilter(admin.SimpleListFilter):
    title = "decade"
    parameter_name = "decade"

    def lookups(self, request, model_admin):
        decades = Movie.objects.exclude(year__isnull=True).values_list("year", flat=True).order_by().distinct()
        starts = sorted({year // 10 * 10 for year in decades}, reverse=True)
        return [(str(start), f"{start}s") for start in starts] + [("none", "Unknown year")]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "none":
            return queryset.filter(year__isnull=True)
        if value and value.isdigit():
            start = int(value)
            return queryset.filter(year__gte=start, year__lt=start + 10)
        return queryset


class TagInline(admin.TabularInline):
    model = Tag
    extra = 0
    raw_id_fields = ["user"]
    fields = ["tag", "user", "tagged_at"]
    show_change_link = False


@admin.register(Movie)
class MovieAdmin(admin.ModelAdmin):
    list_display = ["id", "title", "year", "genre_list", "rating_count", "rating_mean_display", "imdb_link"]
    list_display_links = ["id", "title"]
    search_fields = ["title", "=id"]
    list_filter = ["genres", DecadeFilter]
    filter_horizontal = ["genres"]
    readonly_fields = ["rating_count", "rating_mean", "imdb_link", "tmdb_link"]
    fields = [
        "id",
        "title",
        "year",
        "genres",
        "imdb_id",
        "imdb_link",
        "tmdb_id",
        "tmdb_link",
        "rating_count",
        "rating_mean",
    ]
    inlines = [TagInline]
    ordering = ["-rating_count", "title"]
    list_per_page = 50

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("genres")

    def get_readonly_fields(self, request, obj=None):
        # The MovieLens id is the primary key: settable when adding, fixed afterwards.
        return [*self.readonly_fields, "id"] if obj else self.readonly_fields

    @admin.display(description="genres")
    def genre_list(self, obj: Movie) -> str:
        return ", ".join(genre.name for genre in obj.genres.all())

    @admin.display(description="average", ordering="rating_mean")
    def rating_mean_display(self, obj: Movie) -> str:
        return f"{obj.rating_mean:.2f}" if obj.rating_mean is not None else "–"

    @admin.display(description="IMDb")
    def imdb_link(self, obj: Movie):
        from django.utils.html import format_html

        return format_html('<a href="{}" rel="noopener">tt{}</a>', obj.imdb_url, obj.imdb_id) if obj.imdb_id else "–"

    @admin.display(description="TMDB")
    def tmdb_link(self, obj: Movie):
        from django.utils.html import format_html

        return format_html('<a href="{}" rel="noopener">{}</a>', obj.tmdb_url, obj.tmdb_id) if obj.tmdb_id else "–"


@admin.register(Genre)
class GenreAdmin(admin.ModelAdmin):
    list_display = ["name", "movie_count"]
    search_fields = ["name"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(movie_count=Count("movies"))

    @admin.display(description="movies", ordering="movie_count")
    def movie_count(self, obj) -> int:
        return obj.movie_count


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["tag", "movie", "user", "tagged_at"]
    raw_id_fields = ["movie", "user"]
    list_select_related = ["movie", "user"]
    search_fields = ["tag"]
    show_full_result_count = False
