from django.contrib import admin, messages
from django.db.models import Max, Min, Value
from django.utils.html import format_html

from movierec_site.admin_utils import EstimatedCountPaginator, PlainRowsAdmin, PlainRowsChangeList

from .enrichment import movie_details_enqueue, movie_details_enrich
from .forms import MovieAdminForm
from .models import MAX_MOVIE_ID, Fold, Genre, Movie, MovieDetails, Tag
from .tmdb import tmdb_enabled

# The "Fetch TMDB details" action asks TMDB while the page waits for up to this many movies, else queues a task.
TMDB_FETCH_NOW_MAX = 50


class DecadeFilter(admin.SimpleListFilter):
    title = "decade"
    parameter_name = "decade"

    def lookups(self, request, model_admin):
        # Every decade from the first year to the last: two reads of the year index, where SELECT DISTINCT year
        # read all 59,047 movies of an ML-25M catalogue on every page of the list.
        span = Movie.objects.aggregate(first=Min("year"), last=Max("year"))
        if span["first"] is None:
            starts = []
        else:
            starts = range(span["last"] // 10 * 10, span["first"] // 10 * 10 - 1, -10)
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
    """New tags. The movie's existing tags are listed, each with a box to remove it, by MovieAdminForm's
    `remove_tags` (catalog.forms.TagTable): a form per existing tag cost about 0.8 ms of CPU each."""

    model = Tag
    extra = 0
    raw_id_fields = ["user"]
    fields = ["tag", "user", "tagged_at"]
    show_change_link = False
    verbose_name = "new tag"
    verbose_name_plural = "new tags"

    def get_queryset(self, request):
        return super().get_queryset(request).none()


class MovieChangeList(PlainRowsChangeList):
    """A movie is linked to a genre at most once (the link table's unique pair), so filtering by one genre cannot
    repeat a movie: Django's SELECT DISTINCT for a filter across a many-to-many relation is left out then. It made
    PostgreSQL join, de-duplicate and sort the genre's every movie instead of walking the list's order index
    (264 ms for the 8,884 Action movies of an ML-25M catalogue at load 25; the walk takes a few ms)."""

    _UNREPEATED = frozenset({"genres__id__exact", DecadeFilter.parameter_name})

    def get_filters(self, request):
        specs, has_filters, remaining, may_have_duplicates, has_active = super().get_filters(request)
        params = self.get_filters_params()  # name -> its values in the query string
        if may_have_duplicates and set(params) <= self._UNREPEATED and all(len(v) <= 1 for v in params.values()):
            may_have_duplicates = False
        return specs, has_filters, remaining, may_have_duplicates, has_active


@admin.register(Movie)
class MovieAdmin(PlainRowsAdmin, admin.ModelAdmin):
    list_display = ["id", "title", "year", "genre_list", "rating_count", "rating_mean_display", "imdb_link"]
    list_display_links = ["id", "title"]
    search_fields = ["title", "=id"]
    list_filter = ["genres", DecadeFilter]
    filter_horizontal = ["genres"]
    form = MovieAdminForm
    actions = ["fetch_tmdb_details"]
    readonly_fields = ["rating_count", "rating_mean", "imdb_link", "tmdb_link", "tmdb_details"]
    fields = [
        "id",
        "title",
        "year",
        "genres",
        "imdb_id",
        "imdb_link",
        "tmdb_id",
        "tmdb_link",
        "tmdb_details",
        "rating_count",
        "rating_mean",
    ]
    inlines = [TagInline]
    ordering = ["-rating_count", "title"]
    list_per_page = 50
    paginator = EstimatedCountPaginator
    show_full_result_count = False  # a second COUNT(*) of the catalogue on every filtered or searched page

    def get_changelist(self, request, **kwargs):
        return MovieChangeList

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        """The list's paginator; filtered by one genre alone, its count is the genre's kept movie count.

        Genre.movie_count is kept by triggers on the movie-genre links (catalog migration 0006), which are exactly
        the rows this filter joins: counting them read every movie's key and the genre's links on each page
        (8,884 Action movies of an ML-25M catalogue, 20-70 ms). Any other filter or a search is counted (or
        estimated, EstimatedCountPaginator) as before."""
        paginator = super().get_paginator(request, queryset, per_page, orphans, allow_empty_first_page)
        params = {key for key in request.GET if key not in ("o", "p")}
        genre_id = request.GET.get("genres__id__exact", "")
        if params == {"genres__id__exact"} and genre_id.isdigit():
            kept = Genre.objects.filter(pk=int(genre_id)).values_list("movie_count", flat=True).first()
            if kept is not None:
                paginator.count = kept  # Paginator.count is a cached property: this is its answer
        return paginator

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("genres")

    def get_search_results(self, request, queryset, search_term):
        """Every word in the title, ignoring case and accents (as the site's search), or the movie id.

        Compared on the stored folded title, which the trigram index serves (catalog migration 0004); Django's
        `title icontains` read all 59,047 titles of an ML-25M catalogue, twice per page.
        """
        words = search_term.split()[:8]
        if not words:
            return queryset, False
        found = queryset
        for word in words:
            found = found.filter(title_folded__contains=Fold(Value(word)))
        term = search_term.strip()
        if term.isdigit() and int(term) <= MAX_MOVIE_ID:
            found = found | queryset.filter(pk=int(term))
        return found, False

    def get_fields(self, request, obj=None):
        # The existing tags, with a box each to remove them (MovieAdminForm.remove_tags): a movie being added has none.
        return [*self.fields, "remove_tags"] if obj else self.fields

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        remove = form.cleaned_data.get("remove_tags")
        if change and remove:
            Tag.objects.filter(movie=form.instance, pk__in=remove).delete()

    def get_readonly_fields(self, request, obj=None):
        # The MovieLens id is the primary key: settable when adding, fixed afterwards.
        return [*self.readonly_fields, "id"] if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if obj.tmdb_id is not None and (not change or "tmdb_id" in form.changed_data):
            if movie_details_enqueue(movie_ids=[obj.pk], force=True):
                self.message_user(request, "Its poster and details will be fetched from TMDB in the background.")

    @admin.action(description="Fetch TMDB details")
    def fetch_tmdb_details(self, request, queryset):
        if not tmdb_enabled():
            self.message_user(request, "TMDB is not configured: set TMDB_API_KEY or TMDB_READ_TOKEN.", messages.ERROR)
            return
        movie_ids = list(queryset.filter(tmdb_id__isnull=False).order_by().values_list("pk", flat=True))
        if not movie_ids:
            self.message_user(request, "None of these movies has a TMDB id.", messages.WARNING)
            return
        if len(movie_ids) > TMDB_FETCH_NOW_MAX:
            movie_details_enqueue(movie_ids=movie_ids, force=True)
            self.message_user(request, f"Fetching TMDB details of {len(movie_ids)} movies in the background.")
            return
        summary = movie_details_enrich(movie_ids=movie_ids, force=True)
        text = f"TMDB details: {summary.ok} fetched, {summary.not_found} not found on TMDB, {summary.errors} failed."
        if summary.aborted:
            self.message_user(request, f"{text} Stopped: {summary.aborted}", messages.ERROR)
        else:
            self.message_user(request, text, messages.WARNING if summary.errors else messages.SUCCESS)

    @admin.display(description="TMDB details")
    def tmdb_details(self, obj: Movie) -> str:
        details = MovieDetails.objects.filter(movie_id=obj.pk).first() if obj.pk else None
        if details is None:
            return "Not fetched yet" if obj.tmdb_id else "–"
        when = details.fetched_at.strftime("%Y-%m-%d %H:%M")
        problem = f" (last try failed: {details.error})" if details.error else ""
        stale = " for another TMDB id" if details.tmdb_id != obj.tmdb_id else ""
        return format_html("{} on {}{}{}", details.get_status_display(), when, stale, problem)

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
    list_display = ["name", "movies"]
    search_fields = ["name"]

    @admin.display(description="movies", ordering="movie_count")
    def movies(self, obj) -> int:
        return obj.movie_count  # kept by the database (catalog migration 0006), not counted per page


@admin.register(Tag)
class TagAdmin(PlainRowsAdmin, admin.ModelAdmin):
    list_display = ["tag", "movie", "user", "tagged_at"]
    raw_id_fields = ["movie", "user"]
    list_select_related = ["movie", "user"]
    search_fields = ["tag"]
    show_full_result_count = False
