"""Retrain options: settings, then tuned parameters, then overrides; stored options of queued runs."""

import pytest

from recommendations.retrain import RetrainOptions

pytestmark = pytest.mark.django_db


def test_defaults_come_from_the_settings_and_overrides_win(settings):
    settings.ALS_RANK, settings.LIST_ALS_RANK, settings.LIST_ALS_ALPHA = 12, 24, 4.0
    options = RetrainOptions.from_settings(list_alpha=1.5, rank=None)  # None: not given
    assert (options.rank, options.list_rank, options.list_alpha) == (12, 24, 1.5)
    with pytest.raises(ValueError, match="Unknown retrain options: implicit_prefs"):
        RetrainOptions.from_settings(implicit_prefs=True)


def test_a_run_queued_before_an_upgrade_keeps_its_known_options(caplog):
    stored = {"rank": 6, "max_iter": 4, "implicit_prefs": False, "alpha": 1.0, "top_n": 20}

    options = RetrainOptions.from_stored(stored)

    assert (options.rank, options.max_iter, options.top_n) == (6, 4, 20)
    assert "alpha, implicit_prefs" in caplog.text


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"list_rank": 0}, "list_rank must be at least 1"),
        ({"list_alpha": 0}, "list_alpha must be positive"),
        ({"list_center": 7}, "list_center must be a rating"),
        ({"bias_reg_user": -1}, "bias_reg_user and bias_reg_item"),
        ({"rank": 0, "list_max_iter": 0}, "rank must be at least 1; list_max_iter must be at least 1"),
    ],
)
def test_invalid_options_are_refused_with_every_problem_named(overrides, message):
    with pytest.raises(ValueError, match=message):
        RetrainOptions.from_settings(**overrides).validate()


def test_small_data_shuffles_into_no_more_partitions_than_local_cores(settings, monkeypatch):
    import os

    from spark_engine.pipeline import local_shuffle_partitions, spark_config_from_settings

    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert local_shuffle_partitions("local[*]", 8) == 2
    assert local_shuffle_partitions("local[3]", 8) == 3
    assert local_shuffle_partitions("local[16]", 8) == 8
    assert local_shuffle_partitions("local", 8) == 1
    assert local_shuffle_partitions("spark://cluster:7077", 8) == 8
    settings.SPARK_MASTER, settings.SPARK_SHUFFLE_PARTITIONS = "local[*]", 8
    assert spark_config_from_settings(ratings_count=100_836).shuffle_partitions == 2
    large = spark_config_from_settings(ratings_count=settings.SPARK_QUICK_JIT_MAX_RATINGS + 1)
    assert large.shuffle_partitions == 8 and not large.quick_jit
