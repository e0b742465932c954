import pytest
from django.urls import reverse

from recommendations.models import TrainingRun

pytestmark = pytest.mark.django_db
LIST = reverse("api:training_run_list")


@pytest.fixture
def enqueued(monkeypatch):
    """Record what retrain_enqueue hands to django-q2 instead of running Spark inline."""
    calls = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda *args, **kwargs: calls.append((args, kwargs)))
    return calls


def test_staff_list_and_read_runs(staff_client, django_assert_num_queries):
    old = TrainingRun.objects.create(status=TrainingRun.Status.FAILED, error="boom")
    new = TrainingRun.objects.create(status=TrainingRun.Status.SUCCEEDED, is_active=True, metrics={"rmse": 0.87})
    # token, count, page
    with django_assert_num_queries(3):
        response = staff_client.get(LIST)
    body = response.json()
    assert [run["id"] for run in body["results"]] == [new.pk, old.pk]
    assert body["results"][0]["url"].endswith(reverse("api:training_run_detail", args=[new.pk]))
    detail = staff_client.get(reverse("api:training_run_detail", args=[old.pk])).json()
    assert detail["status"] == "failed" and detail["error"] == "boom"
    assert staff_client.get(reverse("api:training_run_detail", args=[99999])).status_code == 404


def test_posting_a_retrain_answers_202_with_the_run_to_poll(staff_client, enqueued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(LIST, {"rank": 4, "max_iter": 2, "list_rank": 8, "list_alpha": 5.0}, format="json")
    assert response.status_code == 202
    body = response.json()
    run = TrainingRun.objects.get(pk=body["id"])
    assert run.status == body["status"] == "queued"
    assert run.trigger == TrainingRun.Trigger.API
    assert run.parameters["rank"] == 4 and run.parameters["max_iter"] == 2
    assert run.parameters["list_rank"] == 8 and run.parameters["list_alpha"] == 5.0
    assert response["Location"] == body["url"]
    assert body["url"].endswith(reverse("api:training_run_detail", args=[run.pk]))
    assert staff_client.get(body["url"]).json()["status"] == "queued"
    assert enqueued == [(("spark_engine.tasks.retrain_task", run.pk), {"task_name": f"retrain-{run.pk}"})]


def test_a_second_retrain_while_one_is_queued_is_recorded_as_skipped(staff_client, enqueued):
    first = staff_client.post(LIST, {}, format="json").json()
    second = staff_client.post(LIST, format="json")
    assert second.status_code == 202
    assert first["status"] == "queued" and second.json()["status"] == "skipped"


@pytest.mark.parametrize(
    "payload",
    [{"rank": 0}, {"rank": 10**9}, {"max_iter": "many"}, {"reg_param": -1}, {"list_alpha": 0}, [1], "null"],
)
def test_invalid_retrain_options_are_400_and_queue_nothing(staff_client, enqueued, payload):
    if payload == "null":
        response = staff_client.generic("POST", LIST, "null", content_type="application/json")
    else:
        response = staff_client.post(LIST, payload, format="json")
    assert response.status_code == 400
    assert not TrainingRun.objects.exists()


def test_runs_are_staff_only(alice_client, anon, enqueued):
    assert alice_client.get(LIST).status_code == 403
    assert alice_client.post(LIST, {}, format="json").status_code == 403
    assert anon.get(LIST).status_code == 401
    assert not TrainingRun.objects.exists()


@pytest.mark.parametrize("payload", [{"rank": "4"}, {"reg_param": True}, {"evaluate": "yes"}, {"max_iter": 2.5}])
def test_retrain_options_must_have_their_json_types(staff_client, enqueued, payload):
    assert staff_client.post(LIST, payload, format="json").status_code == 400
