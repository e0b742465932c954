"""Deleting an account: everything of the person goes at once, from the page, the API and the admin."""

import pytest
from axes.models import AccessAttempt, AccessLog
from django.apps import apps
from django.contrib.auth import SESSION_KEY, get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.db import models
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from catalog.models import Tag
from ratings.models import NotInterested, Rating, WishlistEntry
from recommendations.models import Recommendation, TrainingRun, UserFactor
from recommendations.selectors import recommendation_list_for_user_fresh
from recommendations.user_rows import USER_KEYED_MODELS
from tests.factories import MovieFactory, MovieLensUserFactory, RatingFactory, UserFactory, make_active_run
from yourdata.services import account_delete, accounts_delete

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db
User = get_user_model()


def _user_references() -> list[tuple[type, str]]:
    """Every (model, field) of any installed app that refers to the user model by a foreign key or one-to-one."""
    return [
        (model, field.name)
        for model in apps.get_models(include_auto_created=True)
        for field in model._meta.concrete_fields
        if isinstance(field, models.ForeignKey) and field.related_model is User
    ]


def _rows_of(user_id: int) -> dict[str, int]:
    counts = {
        f"{model._meta.label}.{name}": model._base_manager.filter(**{f"{name}_id": user_id}).count()
        for model, name in _user_references()
    }
    counts["sessions"] = sum(
        1 for s in Session.objects.all() if str(SessionStore().decode(s.session_data).get(SESSION_KEY)) == str(user_id)
    )
    return counts


def _sign_in_session(user) -> str:
    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    store["_auth_user_hash"] = user.get_session_auth_hash()
    store.create()
    return store.session_key


@pytest.fixture
def full_alice(alice_data, alice, bob):
    """Alice with a row in every table that can refer to her, and Bob with some of his own."""
    movie = alice_data["toy"]
    run = make_active_run({movie: [1.0, 0.5], alice_data["matrix"]: [0.2, 1.0]})
    running = TrainingRun.objects.create(status=TrainingRun.Status.RUNNING)
    for r in (run, running):
        for user in (alice, bob):
            Recommendation.objects.create(run=r, user=user, movie=alice_data["matrix"], rank=1, score=4.0)
            UserFactor.objects.create(run=r, user=user, factors=[0.1, 0.2])
    Tag.objects.create(user=alice, movie=movie, tag="funny", tagged_at="2024-01-01T00:00:00Z")
    Token.objects.create(user=alice)
    Token.objects.create(user=bob)
    from django.contrib.admin.models import CHANGE, LogEntry

    LogEntry.objects.log_actions(user_id=alice.pk, queryset=[movie], action_flag=CHANGE, change_message="x")
    for _ in range(2):
        _sign_in_session(alice)
    _sign_in_session(bob)
    AccessAttempt.objects.create(username="alice", ip_address="10.0.0.1", user_agent="x", failures_since_start=1)
    AccessLog.objects.create(username="alice", ip_address="10.0.0.1", user_agent="x")
    AccessLog.objects.create(username="bob", ip_address="10.0.0.2", user_agent="x")
    return {"run": run, "running": running}


def test_every_model_that_refers_to_users_is_covered():
    """A new model with a user column fails here until the deletion handles it: cascades are handled by the
    user row's delete, DO_NOTHING references (no database constraint) by recommendations.user_rows."""
    for model, name in _user_references():
        on_delete = model._meta.get_field(name).remote_field.on_delete
        assert on_delete is models.CASCADE or model in USER_KEYED_MODELS, f"{model._meta.label}.{name}"


def test_deletion_leaves_no_row_of_the_user_anywhere(full_alice, alice, bob):
    before = _rows_of(alice.pk)
    assert all(before[f"{m._meta.label}.user"] for m in (Rating, WishlistEntry, NotInterested, Tag, Token))
    assert before["recommendations.Recommendation.user"] == 2 and before["sessions"] == 2
    bob_before = _rows_of(bob.pk)

    result = account_delete(user=alice)

    assert not User.objects.filter(pk=alice.pk).exists()
    assert _rows_of(alice.pk) == dict.fromkeys(before, 0)
    assert not AccessAttempt.objects.filter(username="alice").exists()
    assert not AccessLog.objects.filter(username="alice").exists()
    assert result.rows["ratings.Rating"] == 3 and result.rows["sessions"] == 2
    assert result.rows["recommendations.Recommendation"] == 2
    # Bob keeps everything.
    assert _rows_of(bob.pk) == bob_before
    assert AccessLog.objects.filter(username="bob").exists()


def _cached_list_owners() -> set[str]:
    return {key.partition("fresh-recs:")[2].split(":")[1] for key in cache._cache if "fresh-recs:" in key}


def test_deletion_forgets_the_users_cached_lists(
    alice, bob, two_taste_catalogue_run, django_capture_on_commit_callbacks
):
    catalogue, _ = two_taste_catalogue_run
    for user in (alice, bob):
        RatingFactory(user=user, movie=catalogue["comedies"][0], value=5)
        assert recommendation_list_for_user_fresh(user=user, limit=5).personal
    assert _cached_list_owners() == {str(alice.pk), str(bob.pk)}

    with django_capture_on_commit_callbacks(execute=True):
        account_delete(user=alice)

    assert _cached_list_owners() == {str(bob.pk)}


@pytest.fixture
def two_taste_catalogue_run(db):
    from tests.factories import two_taste_catalogue

    catalogue = two_taste_catalogue()
    return catalogue, make_active_run(catalogue["factors"])


def test_deleting_several_users_and_a_movielens_rater(full_alice, alice, bob):
    rater = MovieLensUserFactory()
    RatingFactory(user=rater, movie=MovieFactory())
    result = accounts_delete(user_ids=[alice.pk, rater.pk, 999_999])
    assert sorted(result.user_ids) == sorted([alice.pk, rater.pk])
    assert not User.objects.filter(pk__in=[alice.pk, rater.pk]).exists()
    assert User.objects.filter(pk=bob.pk).exists()
    assert accounts_delete(user_ids=[alice.pk]).user_ids == []


# --- The page ---


def test_delete_page_needs_the_password_and_a_wrong_one_changes_nothing(client, full_alice, alice):
    client.force_login(alice)
    url = reverse("delete_account")
    page = client.get(url)
    assert page.status_code == 200 and page.context["counts"]["ratings"] == 3
    before = _rows_of(alice.pk)

    response = client.post(url, {"password": "not it"})
    assert response.status_code == 200
    assert "That is not your password." in response.content.decode()
    assert User.objects.filter(pk=alice.pk).exists()
    assert _rows_of(alice.pk) == before
    assert client.get(reverse("my_ratings")).status_code == 200  # still signed in


def test_delete_page_deletes_everything_and_signs_out_everywhere(client, full_alice, alice):
    client.force_login(alice)
    other_device = _sign_in_session(alice)
    response = client.post(reverse("delete_account"), {"password": PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("home")
    assert "Your account and everything in it are deleted." in response.content.decode()
    assert not User.objects.filter(pk=alice.pk).exists()
    assert not Session.objects.filter(session_key=other_device).exists()
    assert _rows_of(alice.pk) == dict.fromkeys(_rows_of(alice.pk), 0)
    assert client.get(reverse("my_ratings")).status_code == 302  # signed out


def test_delete_page_locks_out_after_too_many_wrong_passwords(client, alice, settings):
    settings.AXES_FAILURE_LIMIT = 2
    client.force_login(alice)
    for _ in range(2):
        client.post(reverse("delete_account"), {"password": "nope"})
    response = client.post(reverse("delete_account"), {"password": PASSWORD})
    assert "Too many wrong passwords" in response.content.decode()
    assert User.objects.filter(pk=alice.pk).exists()


def test_delete_page_needs_a_signed_in_user(client):
    assert client.get(reverse("delete_account")).status_code == 302


# --- The API ---


def _api(user) -> APIClient:
    token, _ = Token.objects.get_or_create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def test_api_delete_needs_a_signed_in_user(db):
    response = APIClient().delete(reverse("api:me"), {"password": PASSWORD}, format="json")
    assert response.status_code == 401


def test_api_delete_with_a_wrong_or_missing_password_changes_nothing(full_alice, alice):
    client = _api(alice)
    before = _rows_of(alice.pk)
    for body in ({"password": "nope"}, {}, {"password": 12}):
        response = client.delete(reverse("api:me"), body, format="json")
        assert response.status_code == 400, response.content
        assert "password" in response.json()["error"]["fields"]
    assert _rows_of(alice.pk) == before
    assert client.get(reverse("api:me")).status_code == 200


def test_api_delete_deletes_the_caller_only(full_alice, alice, bob):
    client = _api(alice)
    response = client.delete(reverse("api:me"), {"password": PASSWORD}, format="json")
    assert response.status_code == 204
    assert not User.objects.filter(pk=alice.pk).exists()
    assert _rows_of(alice.pk) == dict.fromkeys(_rows_of(alice.pk), 0)
    assert User.objects.filter(pk=bob.pk).exists()
    assert client.get(reverse("api:me")).status_code == 401  # the token went with the account


def test_api_delete_locks_out_after_too_many_wrong_passwords(alice, settings):
    settings.AXES_FAILURE_LIMIT = 2
    client = _api(alice)
    for _ in range(2):
        client.delete(reverse("api:me"), {"password": "nope"}, format="json")
    response = client.delete(reverse("api:me"), {"password": PASSWORD}, format="json")
    assert response.status_code == 429
    assert User.objects.filter(pk=alice.pk).exists()


# --- The admin ---


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(username="admin", is_staff=True, is_superuser=True))
    return client


def test_admin_delete_page_does_the_full_cleanup(admin_client, full_alice, alice, bob):
    url = reverse("admin:accounts_user_delete", args=[alice.pk])
    assert admin_client.get(url).status_code == 200
    response = admin_client.post(url, {"post": "yes"})
    assert response.status_code == 302
    assert _rows_of(alice.pk) == dict.fromkeys(_rows_of(alice.pk), 0)
    assert Recommendation.objects.filter(user=bob).count() == 2


def test_admin_delete_action_does_the_full_cleanup(admin_client, full_alice, alice, bob):
    rater = MovieLensUserFactory()
    Recommendation.objects.create(run=full_alice["run"], user=rater, movie_id=1, rank=1, score=3.0)
    response = admin_client.post(
        reverse("admin:accounts_user_changelist"),
        {"action": "delete_selected", "_selected_action": [alice.pk, rater.pk], "post": "yes"},
    )
    assert response.status_code == 302
    for user_id in (alice.pk, rater.pk):
        assert _rows_of(user_id) == dict.fromkeys(_rows_of(user_id), 0)
    assert Recommendation.objects.filter(user=bob).count() == 2
