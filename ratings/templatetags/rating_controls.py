"""The half-star rating control, one include for every page that rates."""

from __future__ import annotations

import functools
from decimal import Decimal

from django import template
from django.utils import dateformat, timezone
from django.utils.html import conditional_escape, escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from catalog.templatetags.movie_display import movie_url, stars
from ratings.models import RATING_CHOICES

register = template.Library()


@register.simple_tag(takes_context=True)
def rating_control(context, movie, current=None, next_url=None, prefix=""):
    """A <form> posting to the movie's rate URL: 10 radios (0.5..5), Save and Remove buttons.

    Works as a plain form; static/js/rating.js sends it with fetch when a star is picked. Built in Python
    from strings prepared once (see star_radios): a list of cards has one per card, and rendering it as two
    nested template includes cost ~0.4 ms each, a third of a recommendations page's CPU.
    """
    current = Decimal(str(current)) if current not in (None, "") else None
    if next_url is None or next_url == "":
        request = context.get("request")
        next_url = request.get_full_path() if request else ""
    token = context.get("csrf_token")
    return format_html(
        _RATING_FORM,
        rate_url=movie_url("rate", movie.pk),
        csrf_token="" if token is None else str(token),
        next_url=next_url,
        fieldset=_fieldset(movie, star_radios(name="value", current=current, id_prefix=f"{prefix}r{movie.pk}"), ""),
        value_text=f"{stars(current)} / 5" if current else "Not rated",
        remove_hidden=mark_safe("" if current else " hidden"),
    )


@register.simple_tag(takes_context=True)
def rating_row(context, rating):
    """A row of the my-ratings table: the movie's link, the rating control, the date rated.

    The same characters as the template it replaces (`{% url 'movie_detail' %}`, the natural title, the control,
    the rated time through `|date:'c'` and `|date:"j M Y"`, tests/web/test_rating.py compares them), without a
    reverse() and two date formats per row: a tenth of the page's CPU for its 50 rows. The day is formatted once
    per day and language."""
    rated = timezone.template_localtime(rating.rated_at, use_tz=context.use_tz)  # as the date filter sees it
    movie = rating.movie
    return mark_safe(
        f'<tr>\n        <th scope="row"><a href="{conditional_escape(movie_url("movie_detail", rating.movie_id))}">'
        f"{conditional_escape(movie.natural_title)}</a></th>\n"
        f"        <td>{rating_control(context, movie, rating.value)}</td>\n"
        f'        <td><time datetime="{conditional_escape(dateformat.format(rated, "c"))}">'
        f"{conditional_escape(_day(rated.date(), get_language()))}</time></td>\n      </tr>"
    )


@functools.lru_cache(maxsize=4096)
def _day(day, language: str) -> str:
    return dateformat.format(day, "j M Y")  # the month's name in the active language


_RATING_FORM = """<form class="rating-form" method="post" action="{rate_url}" data-rating-form>
  <input type="hidden" name="csrfmiddlewaretoken" value="{csrf_token}">
  <input type="hidden" name="next" value="{next_url}">
  {fieldset}
  <span class="rating-value" data-rating-value>{value_text}</span>
  <span class="rating-actions">
    <button type="submit" class="button button-small" data-rating-save>Save</button>
    <button type="submit" class="button button-small button-quiet" name="action" value="remove"
      data-rating-remove{remove_hidden}>Remove</button>
  </span>
  <output class="rating-status" aria-live="polite" data-rating-status></output>
</form>
"""  # fmt: skip


def _fieldset(movie, radios: SafeString, rate_url: str) -> SafeString:
    return format_html(
        '<fieldset class="stars"{}>\n  <legend class="visually-hidden">Your rating of {}</legend>\n  {}\n</fieldset>\n',
        format_html(' data-rate-url="{}"', rate_url) if rate_url else "",
        movie.natural_title,
        radios,
    )


@register.simple_tag
def star_fieldset(movie, name="value", current=None, id_prefix="", with_rate_url=False):
    """The ten half-star radios of one movie in a fieldset, for forms that rate many at once."""
    current = Decimal(str(current)) if current not in (None, "") else None
    radios = star_radios(name=name.replace("{id}", str(movie.pk)), current=current, id_prefix=f"{id_prefix}r{movie.pk}")
    return _fieldset(movie, radios, movie_url("rate", movie.pk) if with_rate_url else "")


# The ten radios with \x00 where the id prefix goes and \x01 where the name goes, unchecked and checked: built
# once, so that a control costs two escapes and two replaces instead of ten format_html calls (~120 escapes).
_PREFIX, _NAME = "\x00", "\x01"


def _radio_strings(checked: bool) -> tuple[str, ...]:
    out = []
    for number, (value, _) in enumerate(RATING_CHOICES, start=1):
        label = stars(value)
        noun = "star" if label == "1" else "stars"
        side = "star-left" if number % 2 else "star-right"
        out.append(
            f'<input class="star-input" type="radio" name="{_NAME}" id="{_PREFIX}-{number}" value="{value}"'
            f"{' checked' if checked else ''}>\n"
            f'<label class="star {side}" for="{_PREFIX}-{number}" title="{label} {noun}">'
            f'<span class="visually-hidden">{label} {noun}</span></label>'
        )
    return tuple(out)


def star_radios(*, name: str, current: Decimal | None, id_prefix: str) -> SafeString:
    """The ten radios (0.5 to 5) with their star labels, `current` checked.

    Built in Python rather than with a template loop: a recommendations page has 30 of these, and
    the template engine spent ~2 ms on each (two thirds of the page's rendering).
    """
    radios = list(_RADIOS)
    index = _VALUE_INDEX.get(current)
    if index is not None:
        radios[index] = _RADIOS_CHECKED[index]
    html = "\n".join(radios).replace(_PREFIX, escape(id_prefix)).replace(_NAME, escape(name))
    return mark_safe(html)  # the fixed parts are ours, the two variable ones escaped


_WISHLIST_BUTTON = {
    True: '<button type="submit" class="button button-small" name="action" value="remove" '
    'data-on="Remove from wishlist" data-off="Add to wishlist">Remove from wishlist</button>',
    False: '<button type="submit" class="button button-small" name="action" value="add" '
    'data-on="Remove from wishlist" data-off="Add to wishlist">Add to wishlist</button>',
}


@register.simple_tag(takes_context=True)
def movie_actions(context, movie, on_wishlist=False, next_url="", show_not_interested=False):
    """Wishlist and "not interested" buttons: two small forms (static/js enhances them), built in Python for
    the same reason as rating_control."""
    token = context.get("csrf_token")
    csrf = format_html('<input type="hidden" name="csrfmiddlewaretoken" value="{}">', str(token)) if token else ""
    hide = ""
    if show_not_interested:
        hide = format_html(
            '\n  <form method="post" action="{}" class="inline-form" data-hide-form>\n    {}\n'
            '    <input type="hidden" name="next" value="{}">\n'
            '    <button type="submit" class="button button-small button-quiet" name="action" value="add">'
            "Not interested</button>\n  </form>",
            movie_url("not_interested", movie.pk),
            csrf,
            next_url,
        )
    return format_html(
        '<div class="movie-actions">\n'
        '  <form method="post" action="{}" class="inline-form" data-toggle-form="on_wishlist">\n    {}\n'
        '    <input type="hidden" name="next" value="{}">\n    {}\n  </form>{}\n</div>\n',
        movie_url("wishlist_toggle", movie.pk),
        csrf,
        next_url,
        mark_safe(_WISHLIST_BUTTON[bool(on_wishlist)]),
        hide,
    )


register.filter("stars", stars)  # catalog's, so that its cards can show averages


@register.filter
def get_item(mapping, key):
    """mapping[key] or None: for dicts keyed by movie id."""
    try:
        return mapping.get(key)
    except AttributeError:
        return None


@register.filter
def is_in(value, collection) -> bool:
    """`movie.pk|is_in:wishlist_ids`: membership, for sets the view computed once per page."""
    try:
        return value in collection
    except TypeError:
        return False


_RADIOS = _radio_strings(False)
_RADIOS_CHECKED = _radio_strings(True)
_VALUE_INDEX = {value: i for i, (value, _) in enumerate(RATING_CHOICES)}
