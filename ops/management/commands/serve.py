import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from movierec_site.database import child_environ


def gunicorn_command(bind: str) -> list[str]:
    """gunicorn for this 2-core class of machine: one process per core, threads to overlap I/O.

    WEB_CONCURRENCY workers x WEB_THREADS threads (settings, 2 x 4 by default). A recommendations
    request is a few short queries plus up to a few ms of NumPy (which releases the GIL), so 2
    workers x 4 threads keep both cores busy while requests wait on PostgreSQL, without the memory
    of 8 processes each holding the fold-in matrices. The 30 s timeout kills a stuck worker long
    before a load balancer gives up; no request should come near it. The access log (WEB_ACCESS_LOG) goes to
    stdout.
    """
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "movierec_site.wsgi:application",
        "--config",
        "python:ops.gunicorn_conf",
        "--bind",
        bind,
        "--workers",
        str(settings.WEB_CONCURRENCY),
        "--worker-class",
        "gthread",
        "--threads",
        str(settings.WEB_THREADS),
        "--timeout",
        "30",
        *(["--access-logfile", "-"] if settings.WEB_ACCESS_LOG else []),
    ]


class Command(BaseCommand):
    help = "Serve the site and the django-q2 worker together until Ctrl-C (what `make run` calls)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=settings.HOST, help="Default: the HOST setting.")
        parser.add_argument("--port", type=int, default=settings.PORT, help="Default: the PORT setting.")
        parser.add_argument(
            "--gunicorn", action="store_true", help="Serve with gunicorn even with DEBUG on (always when DEBUG is off)."
        )

    def handle(self, *args, **opts):
        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
        bind = f"{opts['host']}:{opts['port']}"
        # Both children reach exactly this process's database (the embedded server's socket included).
        web_env = child_environ()
        if settings.DEBUG and not opts["gunicorn"]:
            web = [*manage, "runserver", "--noreload", bind]
        else:
            if not settings.DEBUG:
                subprocess.run([*manage, "collectstatic", "--noinput", "-v0"], check=True)
            web = gunicorn_command(bind)
            # One BLAS thread per worker: workers and threads are the parallelism. Multi-threaded BLAS in
            # the fold-in's small products spent more on waking threads than on arithmetic (bench_foldin:
            # p95 220 ms against 7 ms for a 1,000-rating user on a busy machine).
            for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
                web_env.setdefault(name, "1")
            # Each worker writes its metrics to files here and /metrics sums them (ops.gunicorn_conf).
            web_env["PROMETHEUS_MULTIPROC_DIR"] = os.environ.get(
                "PROMETHEUS_MULTIPROC_DIR", str(settings.BASE_DIR / "var" / "prometheus")
            )
        processes = {
            "web": subprocess.Popen(web, env=web_env),
            "qcluster": subprocess.Popen([*manage, "qcluster"], env=child_environ()),
        }
        self.stdout.write(self.style.SUCCESS(f"\nMovieRec is up: http://{bind}/   (admin: http://{bind}/admin/)"))
        self.stdout.write("Create an admin account with:  .venv/bin/python manage.py createsuperuser")
        self.stdout.write("Stop with Ctrl-C.\n")

        def stop(*_):
            for proc in processes.values():
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)

        signal.signal(signal.SIGTERM, stop)
        try:
            while all(proc.poll() is None for proc in processes.values()):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            stop()
            for proc in processes.values():
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
        for name, proc in processes.items():
            if proc.returncode not in (0, -signal.SIGTERM, -signal.SIGINT):
                self.stderr.write(f"{name} exited with {proc.returncode}")
