"""The card parts built in Python instead of template includes (rating control, movie URLs): same markup, escaped."""

from decimal import Decimal

import pytest
from django.template import Context, Template
from django.test import RequestFactory, override_settings
from django.urls import NoReverseMatch, reverse

from catalog.models import Movie
from catalog.templatetags.movie_display import movie_url
from ratings.models import RATING_CHOICES
from ratings.templatetags.rating_controls import star_radios


@pytest.mark.parametrize("name", ["rate", "wishlist_toggle", "not_interested", "movie_detail"])
@pytest.mark.parametrize("movie_id", [1, 42, 1_000_007])
def test_movie_url_is_what_reverse_gives(name, movie_id):
    assert movie_url(name, movie_id) == reverse(name, args=[movie_id])


def test_movie_url_follows_the_script_prefix():
    from django.urls import set_script_prefix

    set_script_prefix("/movierec/")
    try:
        assert movie_url("rate", 5) == "/movierec/movies/5/rate/" == reverse("rate", args=[5])
    finally:
        set_script_prefix("/")
    assert movie_url("rate", 5) == "/movies/5/rate/"


def test_movie_url_refuses_a_url_without_one_movie_id():
    with pytest.raises(NoReverseMatch):
        movie_url("movie_list", 5)


def _render(source: str, **context) -> str:
    return Template("{% load rating_controls %}" + source).render(Context(context))


def test_rating_control_posts_to_the_rate_url_with_the_current_value_checked():
    movie = Movie(pk=77, title="Heat (1995)")
    request = RequestFactory().get("/recommendations/?genre=Crime")
    html = _render(
        "{% rating_control movie current %}", movie=movie, current=Decimal("3.5"), request=request, csrf_token="tok"
    )
    assert '<form class="rating-form" method="post" action="/movies/77/rate/" data-rating-form>' in html
    assert 'name="csrfmiddlewaretoken" value="tok"' in html
    assert 'name="next" value="/recommendations/?genre=Crime"' in html
    assert html.count('type="radio" name="value"') == len(RATING_CHOICES) == 10
    assert html.count(" checked") == 1
    assert 'id="r77-7" value="3.5" checked>' in html
    assert "3.5 / 5" in html
    assert "data-rating-remove>Remove" in html  # a rated movie can be unrated
    assert "Your rating of Heat (1995)" in html


def test_rating_control_for_an_unrated_movie_hides_remove():
    html = _render("{% rating_control movie None '/next/' 'rec' %}", movie=Movie(pk=8, title="Up (2009)"))
    assert " checked" not in html
    assert "Not rated" in html
    assert "data-rating-remove hidden>Remove" in html
    assert 'id="recr8-1" value="0.5">' in html
    assert 'name="next" value="/next/"' in html


def test_rating_control_escapes_what_it_is_given():
    movie = Movie(pk=9, title='<script>alert("x")</script> & Co (2001)')
    html = _render("{% rating_control movie None nxt '\"><b>' %}", movie=movie, nxt='/x/?a=1&b="2"')
    assert "<script>" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co" in html
    assert 'value="/x/?a=1&amp;b=&quot;2&quot;"' in html
    assert 'id="&quot;&gt;&lt;b&gt;r9-1"' in html


def test_star_fieldset_names_each_movie_and_can_carry_its_rate_url():
    html = _render('{% star_fieldset movie "rating-{id}" 4 "w" True %}', movie=Movie(pk=12, title="Alien (1979)"))
    assert '<fieldset class="stars" data-rate-url="/movies/12/rate/">' in html
    assert html.count('name="rating-12"') == 10
    assert 'id="wr12-8" value="4" checked>' in html


@pytest.mark.parametrize(("current", "checked"), [(None, None), (Decimal("0.5"), 1), (Decimal("5.0"), 10), (4, 8)])
def test_star_radios_check_only_the_current_value(current, checked):
    html = str(star_radios(name="value", current=Decimal(str(current)) if current else None, id_prefix="p"))
    for number in range(1, 11):
        assert (f'id="p-{number}" value="{RATING_CHOICES[number - 1][0]}" checked>' in html) == (number == checked)


@override_settings(DEBUG=False)
def test_templates_are_cached_when_debug_is_off():
    # Django enables the cached loader itself when TEMPLATES sets no loaders; a settings change that sets
    # loaders without it would parse every include on every render.
    from django.template import engines

    loaders = engines["django"].engine.template_loaders
    assert [type(loader).__module__ for loader in loaders] == ["django.template.loaders.cached"]


def _render_display(source: str, **context) -> str:
    return Template("{% load movie_display rating_controls %}" + source).render(Context(context))


@pytest.mark.django_db
def test_card_head_links_the_title_and_shows_year_genres_and_average():
    from tests.factories import GenreFactory, MovieFactory

    movie = MovieFactory(title="Matrix, The (1999)", year=1999, rating_count=1, rating_mean=Decimal("4.25"))
    movie.genres.set([GenreFactory(name="Sci-Fi"), GenreFactory(name="Action & <Drama>")])
    html = _render_display("{% movie_card_head movie %}", movie=movie)
    assert f'<h2 class="movie-title"><a href="/movies/{movie.pk}/">The Matrix (1999)</a></h2>' in html
    assert "<span>1999</span>" in html
    assert '<a href="/movies/?genre=Sci-Fi">Sci-Fi</a>' in html
    assert '<a href="/movies/?genre=Action%20%26%20%3CDrama%3E">Action &amp; &lt;Drama&gt;</a>' in html
    assert 'title="Average of 1 rating">★ 4.2 <small>(1 rating)</small>' in html


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("tag", "heading"),
    [
        ("{% movie_card_head movie level=3 %}", '<h3 class="movie-title">'),
        ('{% movie_card_head movie level=3 title_class="" %}', "<h3>"),
        ('{% movie_card_head movie title_class="big" %}', '<h2 class="big">'),
    ],
)
def test_card_head_heading_level_and_class(tag, heading):
    from tests.factories import MovieFactory

    movie = MovieFactory(title="<i>Up</i> (2009)", rating_count=0)
    html = _render_display(tag, movie=movie)
    assert f'{heading}<a href="/movies/{movie.pk}/">&lt;i&gt;Up&lt;/i&gt; (2009)</a>' in html
    assert '<span class="average">No ratings yet</span>' in html


@pytest.mark.parametrize(("on_wishlist", "button"), [(True, 'value="remove"'), (False, 'value="add"')])
@pytest.mark.parametrize("hide", [True, False])
def test_movie_actions_toggle_the_wishlist_and_offer_hiding(on_wishlist, button, hide):
    movie = Movie(pk=31, title="Jaws (1975)")
    html = _render_display(
        "{% movie_actions movie on_wishlist next_url=nxt show_not_interested=hide %}",
        movie=movie,
        on_wishlist=on_wishlist,
        nxt="/r/?a=1&b=2",
        hide=hide,
        csrf_token="tok",
    )
    assert (
        '<form method="post" action="/movies/31/wishlist/" class="inline-form" data-toggle-form="on_wishlist">' in html
    )
    assert f'name="action" {button}' in html
    assert ('action="/movies/31/not-interested/"' in html) == hide
    assert html.count('name="csrfmiddlewaretoken" value="tok"') == (2 if hide else 1)
    assert html.count('name="next" value="/r/?a=1&amp;b=2"') == (2 if hide else 1)
