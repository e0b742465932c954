"""The staff page with the training-run history as charts and the "Retrain now" button."""

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse

from recommendations.models import EvaluationReport, TrainingRun
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
URL = reverse("staff_runs")
RETRAIN = reverse("staff_retrain")


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(username="operator", is_staff=True))
    return client


@pytest.fixture
def enqueued(monkeypatch):
    """Record what retrain_enqueue hands to django-q2 instead of running Spark inline."""
    calls = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda *args, **kwargs: calls.append((args, kwargs)))
    return calls


def _run(day: int, *, status=TrainingRun.Status.SUCCEEDED, active=False, rmse=0.9, ndcg=0.1, popular=0.05, **fields):
    started = datetime(2025, 5, day, 2, 0, tzinfo=UTC)
    defaults = {
        "export_seconds": 2.0,
        "evaluate_seconds": 40.0,
        "fit_seconds": 6.0,
        "topn_seconds": 5.0,
        "publish_seconds": 1.0,
        "started_at": started,
        "finished_at": started + timedelta(seconds=70),
        "metrics": {"rmse": rmse, "ndcg_at_10": ndcg, "popularity": {"ndcg_at_10": popular}},
    }
    run = TrainingRun.objects.create(status=status, is_active=active, **(defaults | fields))
    # created_at is auto_now_add; put the runs on the days they claim so the order is by time.
    TrainingRun.objects.filter(pk=run.pk).update(created_at=started)
    return run


def test_anonymous_visitors_are_sent_to_log_in(client, enqueued):
    response = client.get(URL)
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
    response = client.post(RETRAIN)
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
    assert not TrainingRun.objects.exists() and enqueued == []


def test_people_who_are_not_staff_are_forbidden(logged_in, enqueued):
    assert logged_in.get(URL).status_code == 403
    assert logged_in.post(RETRAIN).status_code == 403
    assert not TrainingRun.objects.exists() and enqueued == []


def test_the_nav_links_the_page_for_staff_only(staff_client, user):
    link = f'href="{URL}"'.encode()
    assert link in staff_client.get(reverse("recommendations")).content
    member = Client()
    member.force_login(user)
    assert link not in member.get(reverse("recommendations")).content


def test_an_empty_history_still_offers_the_retrain_button(staff_client):
    response = staff_client.get(URL)
    assert response.status_code == 200
    body = response.content.decode()
    assert "No run is serving recommendations" in body
    assert "Retrain now" in body and f'action="{RETRAIN}"' in body
    assert "<svg" not in body and body.count("Nothing to chart yet") == 3


def test_charts_are_inline_svg_with_text_alternatives_and_data_tables(staff_client, settings):
    settings.TIME_ZONE = "UTC"
    first = _run(1, rmse=0.91, ndcg=0.12, popular=0.07)
    failed = _run(2, status=TrainingRun.Status.FAILED, metrics={}, error="boom")
    serving = _run(3, rmse=0.88, ndcg=0.15, popular=0.07, active=True)
    TrainingRun.objects.create(status=TrainingRun.Status.SKIPPED)
    response = staff_client.get(URL)
    body = response.content.decode()

    charts = response.context["charts"]
    assert [c["id"] for c in charts] == ["rmse-chart", "ndcg-chart", "duration-chart"]
    rmse, ndcg, durations = (c["chart"] for c in charts)
    # Only succeeded runs are charted: the failed run in between has no metrics to show.
    assert [p.label for p in rmse.lines[0].points] == [
        f"Run {first.pk}, 1 May 2025 02:01: RMSE 0.9100",
        f"Run {serving.pk}, 3 May 2025 02:01: RMSE 0.8800",
    ]
    assert [t.label for t in rmse.x_ticks] == ["1 May", "3 May"]
    assert [line.name for line in ndcg.lines] == ["model", "popularity baseline"]
    assert len(durations.bars) == 2 * 6  # five stages and "other" per run
    assert charts[0]["rows"] == [
        [str(first.pk), "2025-05-01 02:01", "0.9100"],
        [str(serving.pk), "2025-05-03 02:01", "0.8800"],
    ]

    assert body.count("<svg") == 3
    # No inline script or style: a strict Content-Security-Policy stays possible.
    assert "<script" not in body.split("</head>")[1] and " style=" not in body
    assert 'aria-labelledby="rmse-chart-title rmse-chart-desc"' in body
    assert f"Latest 0.8800 (run {serving.pk}); best 0.8800 (run {serving.pk}). Lower is better." in body
    assert "Popularity baseline NDCG@10 for 2 successful runs, 1 May 2025 to 3 May 2025." in body
    assert "<polyline" in body and "<rect" in body and body.count("<table") == 4
    assert f"Run <strong>{serving.pk}</strong>" in body  # the serving run
    # Newest first; the skipped trigger is left out.
    assert [row["run"] for row in response.context["recent"]] == [serving, failed, first]


def test_evaluations_are_charted_next_to_the_runs(staff_client, settings):
    settings.TIME_ZONE = "UTC"
    older = EvaluationReport.objects.create(
        kind="evaluate", ratings_count=100, rmse=0.87, ndcg_at_10=0.25, popularity_ndcg_at_10=0.15, summary="a"
    )
    EvaluationReport.objects.create(kind="tune", ratings_count=100, rmse=0.86, summary="best: rank 8")
    newer = EvaluationReport.objects.create(
        kind="evaluate", ratings_count=120, rmse=0.85, ndcg_at_10=0.30, popularity_ndcg_at_10=0.16, summary="b"
    )

    response = staff_client.get(URL)

    rmse, ndcg = response.context["evaluation_charts"]
    # evaluate reports only (a tune's cross-validated RMSE is another measure), oldest first
    assert [row[0] for row in rmse["rows"]] == [str(older.pk), str(newer.pk)]
    assert [row[2] for row in rmse["rows"]] == ["0.8700", "0.8500"]
    assert [line.name for line in ndcg["chart"].lines] == ["served lists", "popularity baseline"]
    assert ndcg["rows"][-1][2:] == ["0.3000", "0.1600"]
    body = response.content.decode()
    assert f"Latest 0.8500 (evaluation {newer.pk}); best 0.8500 (evaluation {newer.pk}). Lower is better." in body
    assert 'aria-labelledby="evaluation-ndcg-chart-title evaluation-ndcg-chart-desc"' in body


def test_without_evaluations_the_charts_say_how_to_get_some(staff_client):
    EvaluationReport.objects.create(kind="tune", ratings_count=100, rmse=0.86, summary="best: rank 8")
    body = staff_client.get(URL).content.decode()
    assert body.count("Nothing to chart yet: run manage.py evaluate.") == 2


def test_page_query_count_is_pinned(staff_client, django_assert_max_num_queries):
    for day in range(1, 21):
        _run(day, rmse=0.9 - day / 1000, active=day == 20)
    EvaluationReport.objects.create(kind="tune", ratings_count=100, rmse=0.91, summary="best: rank 8")
    # session, user, run history, evaluation reports, the new movies the active run serves: the same however many
    # runs there are (after the first view, which reads the process's base of untrained movies: two queries more)
    staff_client.get(URL)
    with django_assert_max_num_queries(5):
        response = staff_client.get(URL)
    assert response.status_code == 200
    assert len(response.context["charts"][0]["chart"].lines[0].points) == 20
    assert "best: rank 8" in response.content.decode() and "0.9100" in response.content.decode()


def test_retrain_now_queues_a_run_on_the_worker(staff_client, enqueued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(RETRAIN, follow=True)
    run = TrainingRun.objects.get()
    assert run.status == TrainingRun.Status.QUEUED and run.trigger == TrainingRun.Trigger.ADMIN
    assert enqueued == [(("spark_engine.tasks.retrain_task", run.pk), {"task_name": f"retrain-{run.pk}"})]
    assert response.redirect_chain == [(URL, 302)]
    assert f"Run {run.pk} queued" in response.content.decode()
    assert [row["run"] for row in response.context["recent"]] == [run]


def test_retrain_while_one_is_queued_is_recorded_as_skipped(staff_client, enqueued):
    staff_client.post(RETRAIN)
    response = staff_client.post(RETRAIN, follow=True)
    skipped = TrainingRun.objects.get(status=TrainingRun.Status.SKIPPED)
    assert f"Run {skipped.pk} skipped: a retrain is already running or queued." in response.content.decode()
    assert TrainingRun.objects.filter(status=TrainingRun.Status.QUEUED).count() == 1


def test_retrain_needs_a_post_with_csrf(enqueued):
    client = Client(enforce_csrf_checks=True)
    client.force_login(UserFactory(username="operator", is_staff=True))
    assert client.get(RETRAIN).status_code == 405
    assert client.post(RETRAIN).status_code == 403
    assert not TrainingRun.objects.exists() and enqueued == []


def test_runs_list_their_beyond_accuracy_metrics(staff_client):
    _run(
        1,
        metrics={
            "rmse": 0.9,
            "ndcg_at_10": 0.29,
            "coverage_at_10": 0.071,
            "novelty_at_10": 2.57,
            "diversity_at_10": 0.362,
            "personalisation_at_10": 0.917,
            "popularity_percentile_at_10": 98.2,
        },
    )
    response = staff_client.get(URL)
    (row,) = response.context["recent"]
    assert row["beyond"] == ["0.0710", "2.57", "0.3620", "0.9170", "98.2"]
    body = response.content.decode()
    assert '<th scope="col">Novelty (bits)</th>' in body and "<td>0.9170</td>" in body


def test_the_latest_flavour_trade_off_table_is_shown(staff_client):
    rows = {
        "popularity": {"ndcg_at_10": 0.16, "coverage_at_10": 0.006},
        "top_picks": {"ndcg_at_10": 0.29, "coverage_at_10": 0.071, "novelty_at_10": 2.57},
        "hidden_gems": {"ndcg_at_10": 0.02, "coverage_at_10": 0.051, "novelty_at_10": 5.38},
    }
    EvaluationReport.objects.create(
        kind="flavours",
        ratings_count=100,
        ndcg_at_10=0.29,
        popularity_ndcg_at_10=0.16,
        summary="s",
        results={"rows": rows, "parameters": {"mmr_lambda": 0.4, "calibration_lambda": 0.5}},
    )
    response = staff_client.get(URL)
    trade_off = response.context["trade_off"]
    assert [row[0] for row in trade_off["rows"]] == ["popularity", "Top picks", "Hidden gems"]
    assert trade_off["rows"][1][1:4] == ["0.2900", "1.81", "–"]
    body = response.content.decode()
    assert 'id="flavour-trade-off"' in body and "MMR λ 0.4" in body and "<td>5.38</td>" in body
    assert "validation split" not in body  # an older report, chosen without one


def test_the_trade_off_table_says_its_parameters_were_chosen_on_a_validation_split(staff_client):
    EvaluationReport.objects.create(
        kind="flavours",
        ratings_count=100,
        summary="s",
        results={
            "rows": {"popularity": {"ndcg_at_10": 0.16}, "top_picks": {"ndcg_at_10": 0.29}},
            "parameters": {"mmr_lambda": 0.7, "mmr_novelty": 0.1, "different_pool": 400, "calibration_lambda": 0.7},
            "validation": {"split": {"holdout_fraction": 0.2}, "search": {}},
        },
    )
    body = staff_client.get(URL).content.decode()
    assert "MMR λ 0.7 (novelty weight 0.1, pool 400), calibration λ 0.7, each chosen on a validation split" in body


def test_without_a_flavour_evaluation_the_page_says_how_to_get_one(staff_client):
    assert "manage.py evaluate --flavours</code> records its table here" in staff_client.get(URL).content.decode()


def test_a_runs_warnings_show_on_the_staff_page_and_its_admin_page(staff_client, client):
    run = _run(3, warnings=["content map skipped: only 8 movies with at least 10 ratings"])
    _run(4)
    page = staff_client.get(URL).content.decode()
    assert page.count("content map skipped: only 8 movies") == 1
    client.force_login(UserFactory(username="admin", is_staff=True, is_superuser=True))
    admin_page = client.get(reverse("admin:recommendations_trainingrun_change", args=[run.pk])).content.decode()
    assert "content map skipped: only 8 movies" in admin_page
    assert "none (a movie this run did not train has no content prior)" in admin_page


def test_runs_show_how_their_stars_reg_param_was_set(staff_client, admin_client):
    search = {"chosen": 0.24, "start": 0.15, "step": 1.6, "rmse": 0.84, "fits": 4, "trials": [], "seconds": 3.0}
    chosen = _run(3, active=True, metrics={"rmse": 0.84, "reg_search": search}, parameters={"reg_param": 0.24})
    fixed = _run(2, parameters={"reg_param": 0.2, "reg_search": False})

    page = staff_client.get(URL).content.decode()
    assert "stars regParam 0.24 (chosen from 0.15, 4 fits)" in page  # the serving run
    assert "0.2 (fixed)" in page

    admin_page = admin_client.get(reverse("admin:recommendations_trainingrun_change", args=[chosen.pk]))
    assert "0.24 (chosen from 0.15, 4 fits)" in admin_page.content.decode()
    listing = admin_client.get(reverse("admin:recommendations_trainingrun_changelist")).content.decode()
    assert "0.24 (chosen from 0.15, 4 fits)" in listing and "0.2 (fixed)" in listing
    assert fixed.stars_reg_param == "0.2 (fixed)"


def test_runs_show_the_stars_rank_their_search_chose(staff_client, admin_client):
    base = {"chosen": 0.15, "start": 0.15, "step": 1.6, "rmse": 0.85, "fits": 3, "trials": [], "seconds": 3.0}
    trial = {"rank": 32, "rmse": 0.85, "seconds": 2.0}
    larger = {**base, "rank": 32, "rank_start": 16, "rank_trials": [trial]}
    kept_16 = {**base, "rank": 16, "rank_start": 16, "rank_trials": [{**trial, "rmse": 0.86}]}
    chose = _run(1, active=True, metrics={"rmse": 0.85, "reg_search": larger}, parameters={"rank": 32})
    stayed = _run(2, metrics={"rmse": 0.86, "reg_search": kept_16})
    reused = {**larger, "fits": 1, "basis": {"run": chose.pk}, "reused": {"changed": 0, "changed_share": 0.0}}
    kept = _run(3, metrics={"rmse": 0.85, "reg_search": reused})

    assert chose.stars_reg_param == "0.15 (chosen from 0.15, 3 fits); rank 32 (chosen over 16)"
    assert stayed.stars_reg_param == "0.15 (chosen from 0.15, 3 fits); rank 16 (32 no better)"
    assert kept.stars_reg_param == f"0.15 (kept from run {chose.pk}'s search, 1 fit); rank 32 (kept)"
    page = staff_client.get(URL).content.decode()
    assert "stars regParam 0.15 (chosen from 0.15, 3 fits); rank 32 (chosen over 16)" in page  # the serving run
    assert "rank 16 (32 no better)" in page
    admin_page = admin_client.get(reverse("admin:recommendations_trainingrun_change", args=[chose.pk]))
    assert "rank 32 (chosen over 16)" in admin_page.content.decode()


def test_runs_show_their_stars_blend_and_where_it_came_from(staff_client, admin_client):
    chosen_blend = {"list_weight": 0.12, "offset": -0.05, "rmse_before": 0.8612, "rmse": 0.857, "kept": True}
    chosen = _run(1, metrics={"rmse": 0.857, "stars_blend": {**chosen_blend, "basis": {"run": 1}}})
    kept_blend = {**chosen_blend, "rmse_before": 0.86, "rmse": 0.855, "basis": {"run": chosen.pk}, "reused": True}
    kept = _run(2, active=True, metrics={"rmse": 0.855, "stars_blend": kept_blend})
    none = {"list_weight": 0.0, "offset": 0.0, "rmse_before": 0.87, "rmse": 0.87, "kept": False}
    not_kept = _run(3, metrics={"rmse": 0.87, "stars_blend": none})
    off = _run(4, parameters={"stars_blend": False, "stars_list_weight": 0.0})

    assert chosen.stars_blend == "list weight 0.12, offset -0.05 (chosen on the holdout split: RMSE 0.8612 → 0.8570)"
    assert kept.stars_blend == (
        f"list weight 0.12, offset -0.05 (kept from run {chosen.pk}'s choice; on this run's holdout split "
        "RMSE 0.8600 → 0.8550)"
    )
    assert not_kept.stars_blend.startswith("none (no gain beyond noise")
    assert off.stars_blend == "off"

    page = staff_client.get(URL).content.decode()
    assert "Stars blend</th>" in page
    assert f"stars blend list weight 0.12, offset -0.05 (kept from run {chosen.pk}&#x27;s choice" in page  # serving
    assert "(chosen on the holdout split: RMSE 0.8612 → 0.8570)" in page and "<td>off</td>" in page
    admin_page = admin_client.get(reverse("admin:recommendations_trainingrun_change", args=[chosen.pk]))
    assert "chosen on the holdout split: RMSE 0.8612 → 0.8570" in admin_page.content.decode()


def test_the_trade_off_table_names_the_hidden_gems_parameters(staff_client):
    EvaluationReport.objects.create(
        kind="flavours",
        ratings_count=100,
        summary="s",
        results={
            "rows": {"popularity": {"ndcg_at_10": 0.16}, "hidden_gems": {"ndcg_at_10": 0.07}},
            "parameters": {
                "mmr_lambda": 0.7,
                "calibration_lambda": 0.7,
                "gem_discount": 0.25,
                "gem_neighbour_weight": 0.5,
                "gem_head_share": 0.5,
            },
            "validation": {"split": {"holdout_fraction": 0.2}, "search": {}},
        },
    )
    body = staff_client.get(URL).content.decode()
    assert (
        "hidden gems popularity discount 0.25 and neighbourhood weight 0.5 (gems below the movie at 0.5 of the rating "
        "mass), calibration λ 0.7" in body
    )


def test_a_run_evaluating_after_its_publish_says_so_and_its_figures_show_when_they_arrive(staff_client, admin_client):
    run = _run(
        3,
        active=True,
        evaluation=TrainingRun.Evaluation.RUNNING,
        metrics={"reg_search": {"chosen": 0.15, "start": 0.15, "fits": 3}},
    )
    body = staff_client.get(URL).content.decode()
    assert "data-evaluating" in body and "evaluating…" in body
    api = admin_client.get(reverse("api:training_run_detail", args=[run.pk])).json()
    assert api["evaluation"] == "running" and "rmse" not in api["metrics"]
    changelist = admin_client.get(reverse("admin:recommendations_trainingrun_changelist")).content.decode()
    assert "evaluating…" in changelist

    TrainingRun.objects.filter(pk=run.pk).update(
        evaluation=TrainingRun.Evaluation.SUCCEEDED, metrics={"rmse": 0.8765, "ndcg_at_10": 0.2468}
    )
    body = staff_client.get(URL).content.decode()
    assert "evaluating" not in body and "0.8765" in body and "0.2468" in body
    api = admin_client.get(reverse("api:training_run_detail", args=[run.pk])).json()
    assert api["evaluation"] == "succeeded" and api["metrics"]["rmse"] == 0.8765


def test_the_duration_chart_leaves_an_evaluation_after_the_publish_out_of_other(staff_client):
    # 70 s start to publish: export 2 + fit 6 + top-N 5 + publish 1 = 14, so other is 56 whatever the evaluation took.
    _run(3, evaluation=TrainingRun.Evaluation.SUCCEEDED, evaluate_seconds=40.0)
    _run(4)  # evaluated before the fit (runs from before): 70 - 54 = 16
    chart = next(c for c in staff_client.get(URL).context["charts"] if c["id"] == "duration-chart")
    other = chart["columns"].index("other")
    assert [row[other] for row in chart["rows"]] == ["56.0 s", "16.0 s"]
