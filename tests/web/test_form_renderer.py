"""movierec_site.form_renderer writes Django's widget templates in Python: the same characters, widget by widget
and on whole admin pages, and no template render per option."""

import re
from decimal import Decimal

import pytest
from django import forms
from django.contrib.auth.models import Permission
from django.forms.renderers import DjangoTemplates
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy

from movierec_site.form_renderer import PlainWidgetRenderer
from tests.factories import GenreFactory, MovieFactory, MovieLensUserFactory, RatingFactory, UserFactory

DJANGO = DjangoTemplates()
PLAIN = PlainWidgetRenderer()

CHOICES = [("", "Any"), ("a&b", 'A "and" <B>'), (3, gettext_lazy("Three")), ("safe", mark_safe("<i>safe</i>"))]
GROUPED = [("Letters", [("a", "A"), ("b", "B")]), ("Digits", [("1", "One"), ("2", "Two")]), ("z", "Zed")]


def _cases():
    yield forms.TextInput(), "q", 'x "<y>" & z', {"id": "id_q", "required": True, "maxlength": 150}
    yield forms.TextInput(), "q", None, {"placeholder": "Search…", "autofocus": False}
    yield forms.TextInput(), "q", mark_safe("<b>kept</b>"), {}
    yield forms.NumberInput(), "n", 0, {"min": 0, "step": Decimal("0.5")}
    yield forms.EmailInput(), "e", "a@b.example", {"class": "vTextField"}
    yield forms.PasswordInput(), "p", "secret", {}
    yield forms.HiddenInput(), "h", 12, {}
    yield forms.CheckboxInput(), "c", True, {"id": "id_c"}
    yield forms.CheckboxInput(), "c", False, {}
    yield forms.DateInput(), "d", "2024-01-02", {"class": "vDateField", "size": "10"}
    yield forms.URLInput(), "u", "https://example.com/?a=1&b=2", {}
    yield forms.Select(choices=CHOICES), "s", "a&b", {"id": "id_s"}
    yield forms.Select(choices=CHOICES), "s", None, {}
    yield forms.Select(choices=GROUPED), "g", "2", {}
    yield forms.SelectMultiple(choices=CHOICES), "m", ["a&b", "3"], {"class": "selectfilter", "data-is-stacked": 0}
    yield forms.Select(choices=[(1, 1), (2, 2)]), "i", 2, {}  # number labels: localized by the engine
    yield forms.Textarea(), "t", "line one\n<two> & three", {"rows": 3}
    yield forms.Textarea(), "t", "", {}
    yield forms.Textarea(), "t", None, {"cols": "40"}


@pytest.mark.parametrize("case", list(_cases()), ids=lambda case: f"{type(case[0]).__name__}-{case[2]!r}")
def test_each_widget_is_written_as_djangos_templates_write_it(case):
    widget, name, value, attrs = case
    assert widget.render(name, value, attrs, renderer=PLAIN) == widget.render(name, value, attrs, renderer=DJANGO)


def test_a_select_is_written_without_a_template_per_option(monkeypatch):
    rendered = []
    original = DjangoTemplates.get_template

    def counting(self, template_name):
        rendered.append(template_name)
        return original(self, template_name)

    monkeypatch.setattr(DjangoTemplates, "get_template", counting)
    renderer = PlainWidgetRenderer()
    widget = forms.SelectMultiple(choices=[(str(n), f"option {n}") for n in range(200)])
    html = widget.render("m", ["7"], {}, renderer=renderer)
    assert html.count("<option") == 200 and '<option value="7" selected>option 7</option>' in html
    # Once per template name, to check the engine finds Django's own file: not per option, not per render.
    widget.render("m", ["8"], {}, renderer=renderer)
    assert len(rendered) == len(set(rendered)) <= 3


def test_a_widget_template_an_app_overrides_is_used_as_it_is(monkeypatch):
    renderer = PlainWidgetRenderer()
    overridden = "django/forms/widgets/text.html"
    template = renderer.get_template(overridden)
    monkeypatch.setattr(template.origin, "name", "/elsewhere/templates/django/forms/widgets/text.html")
    monkeypatch.setattr(renderer, "get_template", lambda name: template)
    assert not renderer._is_djangos(overridden)


CSRF = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')


@pytest.mark.django_db
def test_admin_forms_are_the_same_page_with_djangos_renderer(client, settings):
    staff = UserFactory(username="admin", is_staff=True, is_superuser=True)
    staff.user_permissions.set(Permission.objects.all()[:5])
    client.force_login(staff)
    movie = MovieFactory(title='<b>"Tom & Jerry"</b> (1992)', imdb_id=1234, tmdb_id=99)
    movie.genres.set([GenreFactory(name="Drama"), GenreFactory(name="Comedy")])
    rater = MovieLensUserFactory(username="movielens-7", movielens_id=7)
    rating = RatingFactory(user=rater, movie=movie, value=Decimal("3.5"))
    pages = [
        reverse("admin:catalog_movie_change", args=[movie.pk]),
        reverse("admin:catalog_movie_add"),
        reverse("admin:accounts_user_change", args=[staff.pk]),
        reverse("admin:accounts_user_change", args=[rater.pk]),
        reverse("admin:accounts_user_add"),
        reverse("admin:ratings_rating_change", args=[rating.pk]),
        reverse("admin:ratings_rating_add"),
        reverse("admin:catalog_genre_add"),
        reverse("admin:catalog_movie_changelist"),
        reverse("admin:ratings_rating_changelist") + "?q=movielens-7",
        reverse("login"),
        reverse("movie_list") + "?q=tom&decade=1990",
    ]
    for page in pages:
        settings.FORM_RENDERER = "movierec_site.form_renderer.PlainWidgetRenderer"
        ours = client.get(page)
        settings.FORM_RENDERER = "django.forms.renderers.DjangoTemplates"
        theirs = client.get(page)
        assert ours.status_code == theirs.status_code == 200, page
        assert CSRF.sub("", ours.content.decode()) == CSRF.sub("", theirs.content.decode()), page
    settings.FORM_RENDERER = "movierec_site.form_renderer.PlainWidgetRenderer"
    page = client.get(reverse("admin:accounts_user_change", args=[staff.pk]))
    templates = [t.name for t in page.templates]
    assert "django/forms/widgets/select_option.html" not in templates
    assert page.content.decode().count("<option") >= Permission.objects.count()  # every permission is offered
