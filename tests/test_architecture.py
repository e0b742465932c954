"""The web process never loads pyspark: every URL module, and the views and APIs they route to, import
without it. (Which app may import which is checked by import-linter in `make lint`.)"""

import json
import subprocess

from django.db import connection

from tests.ops.conftest import PYTHON, ROOT, subprocess_env

APPS = ["accounts", "catalog", "ratings", "recommendations", "spark_engine", "movielens", "ops"]
URL_MODULES = ["movierec_site.urls", "movierec_site.api_urls"] + [
    f"{app}.{module}" for app in APPS for module in ("urls", "api") if (ROOT / app / f"{module}.py").exists()
]


def test_url_modules_import_without_pyspark():
    # A fresh interpreter: this test process may have loaded pyspark for the Spark tests.
    db = connection.settings_dict
    env = subprocess_env(
        DJANGO_SETTINGS_MODULE="movierec_site.test_settings",
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
    )
    script = (
        "import importlib, json, sys\n"
        "import django\n"
        "django.setup()\n"  # loads every app's admin module too (admin autodiscovery)
        f"for name in {URL_MODULES!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('pyspark', 'spark_engine'))))\n"
    )
    out = subprocess.run(
        [PYTHON, "-c", script], env=env, cwd=ROOT, check=True, timeout=120, capture_output=True, text=True
    ).stdout
    loaded = json.loads(out.strip().splitlines()[-1])

    assert "recommendations.api" in URL_MODULES and "ratings.urls" in URL_MODULES
    assert [m for m in loaded if m.split(".")[0] == "pyspark"] == [], f"imported with: {loaded}"
