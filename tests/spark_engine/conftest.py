import pytest

from movierec_site.database import child_environ
from spark_engine.session import SparkConfig, get_spark, stop_spark


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    """One local Spark session for the whole test run (starting one costs several seconds)."""
    session = get_spark(
        SparkConfig(
            master="local[2]",
            app_name="movierec-tests",
            driver_memory="2g",
            shuffle_partitions=2,
            checkpoint_dir=str(tmp_path_factory.mktemp("spark-checkpoints")),
        )
    )
    yield session
    stop_spark()


@pytest.fixture
def manage_env():
    """Environment for a `manage.py` subprocess that works on this test's database with the test settings."""
    return child_environ(DJANGO_SETTINGS_MODULE="movierec_site.test_settings")
