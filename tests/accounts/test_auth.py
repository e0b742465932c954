import re

import pytest
from django.core import mail
from django.urls import reverse

from accounts.models import User
from ratings.models import Rating
from tests.factories import GenreFactory, MovieFactory, UserFactory

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery staple"


def test_sign_up_logs_in_and_goes_to_onboarding(client):
    response = client.post(
        reverse("signup"),
        {"username": "bob", "email": "", "password1": "a-long-pass-phrase", "password2": "a-long-pass-phrase"},
    )
    assert response.status_code == 302 and response.url == reverse("welcome")
    user = User.objects.get(username="bob")
    assert user.email == "" and user.movielens_id is None and user.check_password("a-long-pass-phrase")
    page = client.get(reverse("welcome"))
    assert b"Signed in as <strong>bob</strong>" in page.content


def test_sign_up_rejects_weak_passwords_and_taken_names(client):
    UserFactory(username="taken")
    response = client.post(reverse("signup"), {"username": "taken", "password1": "123", "password2": "123"})
    assert response.status_code == 200
    assert response.context["form"].errors.keys() >= {"username", "password2"}
    assert User.objects.count() == 1


def test_log_in_and_log_out(client):
    UserFactory(username="carol")
    page = client.get(reverse("login"))
    assert b"Not signed in" in page.content
    response = client.post(reverse("login"), {"username": "carol", "password": PASSWORD})
    assert response.status_code == 302
    assert b"Signed in as <strong>carol</strong>" in client.get(reverse("movie_list")).content
    assert client.get(reverse("logout")).status_code == 405  # log-out is a POST
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert b"Not signed in" in client.get(reverse("movie_list")).content


def test_movielens_raters_cannot_log_in(client):
    from tests.factories import MovieLensUserFactory

    rater = MovieLensUserFactory()
    response = client.post(reverse("login"), {"username": rater.username, "password": "!"})
    assert response.status_code == 200 and "_auth_user_id" not in client.session


def test_log_in_attempts_are_rate_limited(client, settings):
    UserFactory(username="dave")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("login"), {"username": "dave", "password": "wrong"})
    # Locked out: even the right password is refused for now.
    response = client.post(reverse("login"), {"username": "dave", "password": PASSWORD})
    assert response.status_code == 429
    assert b"Too many failed log-ins" in response.content
    assert "_auth_user_id" not in client.session
    # Another account from the same address is not affected.
    UserFactory(username="erin")
    assert client.post(reverse("login"), {"username": "erin", "password": PASSWORD}).status_code == 302


def test_password_change(client):
    user = UserFactory()
    client.force_login(user)
    response = client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": "another-long-phrase", "new_password2": "another-long-phrase"},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("another-long-phrase")


def test_password_reset_sends_a_working_link(client):
    UserFactory(username="frank", email="frank@example.com")
    response = client.post(reverse("password_reset"), {"email": "frank@example.com"})
    assert response.status_code == 302
    (message,) = mail.outbox
    assert message.subject == "Reset your MovieRec password"
    link = re.search(r"http://testserver(/accounts/reset/\S+)", message.body).group(1)
    form_url = client.get(link).url  # Django swaps the token for a session-bound URL
    response = client.post(form_url, {"new_password1": "brand-new-phrase-1", "new_password2": "brand-new-phrase-1"})
    assert response.status_code == 302
    assert User.objects.get(username="frank").check_password("brand-new-phrase-1")


def test_onboarding_offers_popular_varied_movies_and_saves_many_ratings_at_once(client):
    genres = [GenreFactory(name=n) for n in ["Action", "Comedy", "Drama", "Horror", "Romance"]]
    # Twenty popular comedies from the 1990s, and less popular movies of other genres and decades.
    for i in range(20):
        MovieFactory(title=f"Nineties comedy {i}", year=1995, rating_count=1000 - i).genres.add(genres[1])
    others = []
    for i, (genre, year) in enumerate(
        zip([genres[0], genres[2], genres[3], genres[4]], [1972, 1984, 2003, 2015], strict=True)
    ):
        movie = MovieFactory(title=f"Other {i}", year=year, rating_count=500 - i)
        movie.genres.add(genre)
        others.append(movie)
    user = UserFactory()
    client.force_login(user)
    response = client.get(reverse("welcome"))
    movies = response.context["movies"]
    assert len(movies) == 10
    assert set(others) <= set(movies)  # variety beats raw popularity
    assert b"Skip for now" in response.content

    post = {f"rating-{movies[0].pk}": "4.5", f"rating-{movies[1].pk}": "2", f"rating-{movies[2].pk}": ""}
    response = client.post(reverse("welcome"), post)
    assert response.status_code == 302 and response.url == reverse("recommendations")
    assert Rating.objects.filter(user=user).count() == 2
    # Rated movies are not offered again.
    assert movies[0] not in client.get(reverse("welcome")).context["movies"]


def test_onboarding_reports_invalid_values_and_keeps_valid_ones(client):
    movie, other = MovieFactory(rating_count=10), MovieFactory(rating_count=9)
    user = UserFactory()
    client.force_login(user)
    response = client.post(reverse("welcome"), {f"rating-{movie.pk}": "9", f"rating-{other.pk}": "3"})
    assert response.url == reverse("welcome")
    assert list(Rating.objects.filter(user=user).values_list("movie_id", flat=True)) == [other.pk]


@pytest.mark.django_db
def test_sign_up_refuses_names_reserved_for_movielens_raters(client):
    response = client.post(
        reverse("signup"),
        {"username": "MovieLens-42", "password1": "a long passphrase 123", "password2": "a long passphrase 123"},
    )
    assert response.status_code == 200
    assert "reserved" in response.content.decode()
    assert not User.objects.filter(username__iexact="movielens-42").exists()
