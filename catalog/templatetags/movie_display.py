"""Posters (or a placeholder of the same size) and the TMDB credit line, for every page that shows movies."""

from __future__ import annotations

import re
from urllib.parse import quote

from django import template
from django.core.exceptions import ObjectDoesNotExist
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from catalog.models import Movie, MovieDetails
from catalog.tmdb import poster_url, tmdb_enabled

register = template.Library()

# TMDB's poster widths and the 2:3 boxes they fill; the CSS class sets the displayed size.
POSTER_SIZES = {"w92": (92, 138), "w185": (185, 278), "w342": (342, 513)}
TRAILING_YEAR = re.compile(r"\s*\([^()]*\)\s*$")
TRAILING_ARTICLE = re.compile(r",\s*\w{1,3}$")  # "Matrix, The", "Misérables, Les"


def movie_details(movie: Movie) -> MovieDetails | None:
    """The movie's TMDB details when fetched and still for its TMDB id. Callers select_related("details")
    (Movie.objects.with_genres() does) so that a list of cards costs no query per movie."""
    try:
        details = movie.details
    except ObjectDoesNotExist:
        return None
    if details is None or details.tmdb_id != movie.tmdb_id or details.status != MovieDetails.Status.OK:
        return None
    return details


def title_initials(title: str) -> str:
    """ "Toy Story (1995)" -> "TS"; "Matrix, The (1999)" -> "M"; at most two letters."""
    name = TRAILING_ARTICLE.sub("", TRAILING_YEAR.sub("", title or ""))
    letters = [word[0] for word in name.split() if word[:1].isalnum()]
    return "".join(letters[:2]).upper() or "?"


# A movie id no catalogue reaches, reversed once per URL name and then replaced by each movie's id.
_URL_ID_PLACEHOLDER = 987654321987
_url_parts: dict[tuple, tuple[str, str]] = {}


def movie_url(name: str, movie_id: int) -> str:
    """reverse(name, args=[movie_id]) for a URL whose one argument is a movie's integer id, at a fraction of the
    cost: a card list reversed 8 URLs per card (~250 reverses, ~15% of a recommendations page's CPU). The URL is
    reversed once per name (and script prefix and urlconf) with a placeholder id, then the id is put in its place."""
    key = (name, get_script_prefix(), get_urlconf())
    parts = _url_parts.get(key)
    if parts is None:
        url = reverse(name, args=[_URL_ID_PLACEHOLDER])
        head, sep, tail = url.partition(str(_URL_ID_PLACEHOLDER))
        if not sep or str(_URL_ID_PLACEHOLDER) in tail:
            raise ValueError(f"URL {name!r} does not take one movie id: {url}")
        parts = _url_parts[key] = (head, tail)
    return f"{parts[0]}{int(movie_id)}{parts[1]}"


@register.simple_tag(name="movie_url")
def movie_url_tag(name: str, movie_id: int) -> str:
    """{% movie_url 'rate' movie.pk %}: the same as {% url 'rate' movie.pk %} for URLs taking one movie id."""
    return movie_url(name, movie_id)


@register.simple_tag
def movie_poster(movie: Movie, size: str = "w185", css_class: str = "poster-card") -> str:
    """The poster as a lazy <img> of fixed size when TMDB has one, else a box of the same size (so cards line up
    and nothing moves when images load). Nothing at all when TMDB is off: the site then shows no posters."""
    if not tmdb_enabled():
        return ""
    width, height = POSTER_SIZES[size]
    details = movie_details(movie)
    if details and details.poster_path:
        return format_html(
            '<img class="poster {}" loading="lazy" width="{}" height="{}" src="{}" alt="Poster of {}">',
            css_class,
            width,
            height,
            poster_url(details.poster_path, size),
            movie.natural_title,
        )
    return format_html(
        '<span class="poster {} poster-placeholder" aria-hidden="true">{}</span>',
        css_class,
        title_initials(movie.title),
    )


def stars(value) -> str:
    """4.0 -> "4", 3.5 -> "3.5", 3.8421 -> "3.8"; empty for None."""
    if value is None or value == "":
        return ""
    text = f"{float(value):.1f}"
    return text[:-2] if text.endswith(".0") else text


_genre_links: dict[tuple, str] = {}


def _genre_link(name: str) -> str:
    """<a> to browse one genre, built once per genre (there are 20) and script prefix."""
    key = (name, get_script_prefix(), get_urlconf())
    link = _genre_links.get(key)
    if link is None:
        link = _genre_links[key] = format_html(
            '<a href="{}?genre={}">{}</a>', reverse("movie_list"), quote(name, safe="/"), name
        )
    return link


@register.simple_tag
def movie_meta(movie: Movie) -> str:
    """A card's facts: year, genres (links to browse them) and the average rating with its count.

    Built in Python: as an include it was the largest part of a card's rendering (a reverse per genre)."""
    parts = ['<p class="movie-meta">']
    if movie.year:
        parts.append(f"<span>{int(movie.year)}</span>")
    genres = [_genre_link(genre.name) for genre in movie.genres.all()]
    if genres:
        parts.append(f'<span class="genres">{", ".join(genres)}</span>')
    count = movie.rating_count
    if count:
        noun = "rating" if count == 1 else "ratings"
        parts.append(
            f'<span class="average" title="Average of {int(count)} {noun}">★ {stars(movie.rating_mean)} '
            f"<small>({int(count)} {noun})</small></span>"
        )
    else:
        parts.append('<span class="average">No ratings yet</span>')
    parts.append("</p>")
    return mark_safe("\n  ".join(parts))  # numbers, and genre links escaped by format_html


@register.simple_tag
def movie_card_head(movie: Movie, level: int = 2, title_class: str | None = None) -> str:
    """A movie card's head: poster, linked title (an <h2>, or an <h3> with level=3) and facts.

    title_class is the heading's class ("movie-title" when not given); with level=3, title_class="" means none."""
    tag = "h3" if level == 3 else "h2"
    css = "" if (level == 3 and title_class == "") else (title_class or "movie-title")
    return format_html(
        '<div class="card-head">\n  {}\n  <div>\n    <{}{}><a href="{}">{}</a></{}>\n    {}\n  </div>\n</div>\n',
        movie_poster(movie),
        tag,
        format_html(' class="{}"', css) if css else "",
        movie_url("movie_detail", movie.pk),
        movie.natural_title,
        tag,
        movie_meta(movie),
    )


@register.simple_tag
def tmdb_attribution():
    """TMDB's required notice (https://www.themoviedb.org/api-terms-of-use), when the site uses its API."""
    if not tmdb_enabled():
        return ""
    return format_html(
        '<p class="tmdb-credit">Posters, overviews and credits: <a href="{}" rel="noopener">TMDB</a>. '
        "This product uses the TMDB API but is not endorsed or certified by TMDB.</p>",
        "https://www.themoviedb.org/",
    )


@register.filter
def runtime_display(minutes: int | None) -> str:
    """95 -> "1 h 35 min"; 45 -> "45 min"."""
    if not minutes:
        return ""
    hours, rest = divmod(int(minutes), 60)
    return f"{hours} h {rest} min" if hours and rest else f"{hours} h" if hours else f"{rest} min"


@register.simple_tag
def details_of(movie: Movie) -> MovieDetails | None:
    """{% details_of movie as details %}: the movie's current TMDB details, or None."""
    return movie_details(movie) if tmdb_enabled() else None
