"""Load during a retrain: the API and the recommendations page under wrk while `manage.py retrain` publishes.

    .venv/bin/python bench/bench_load_during_retrain.py [--duration 60] [--baseline 20] [--connections 64]
                                                        [--page-connections 8] [--samplers 4] [retrain options…]

Prepares the database as bench_api.py does (BENCH_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/movierec_bench_load: ml-latest-small, an active run from NumPy ALS,
API tokens of 64 MovieLens raters), serves it with gunicorn (DEBUG=0, 2 workers x 4 threads) and logs a
session in for each of 8 raters (the page /recommendations/ needs one).

Then, twice, two wrk processes at once: one on GET /api/v1/me/recommendations/ (64 connections, rotating
tokens), one on GET /recommendations/ (8 connections, rotating session cookies), and Python samplers
(one token each) that read the API in a loop and record the `run` field of every response:

1. a baseline of --baseline seconds without a retrain;
2. --duration seconds while `manage.py retrain` (Spark, on the same database; extra arguments are passed
   to it, --no-evaluate unless --evaluate is given) runs and switches the active run.

Asserts (exit status 1 when one fails): no non-2xx response and no socket error (a wrk Lua `response`
callback counts anything but 2xx, redirects included); the retrain succeeded and published inside the
loaded window; every sampled response names either the old active run or the new one; each sampler
saw the old run, then the new one, and after its first sight of the new run at most a short skew of
old-run answers (a request that read the active run just before the switch and answered just after;
the count is reported, and any old answer more than --skew-seconds after the switch fails).
Prints p50/p99 and requests/s of both phases side by side, with the load average (the machine may be
shared).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_api import (  # noqa: E402
    ROOT,
    _free_port,
    _to_ms,
    _tokens,
    _wait_until_up,
    _wrk,
    prepare_database,
    serve_environment,
    start_gunicorn,
)

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/movierec_bench_load"
API_PATH = "/api/v1/me/recommendations/"
PAGE_PATH = "/recommendations/"

WRK_SCRIPT = """
local values = {%(values)s}
local header = "%(header)s"
local i = 0
local threads = {}
bad = 0
setup = function(thread)
  table.insert(threads, thread)
end
init = function(args)
  bad = 0
end
request = function()
  i = i + 1
  local headers = {["Accept"] = "%(accept)s"}
  headers[header] = values[(i %% #values) + 1]
  return wrk.format("GET", "%(path)s", headers)
end
response = function(status, headers, body)
  if status < 200 or status > 299 then
    bad = bad + 1
  end
end
done = function(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("bad")
  end
  io.write(string.format("NOT_2XX %%d\\n", total))
end
"""


def _lua(path: str, header: str, values: list[str], accept: str) -> str:
    quoted = ", ".join(json.dumps(v) for v in values)
    return WRK_SCRIPT % {"values": quoted, "header": header, "path": path, "accept": accept}


def _run_wrk(url: str, script: Path, connections: int, threads: int, stop: threading.Event, out: dict, key: str):
    """wrk until `stop` is set (SIGINT: wrk stops and prints its summary, Lua done() included)."""
    try:
        proc = subprocess.Popen(
            ["wrk", f"-t{threads}", f"-c{connections}", "-d3600s", "--latency", "--timeout", "5s", "-s", str(script),
             url],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        started = time.monotonic()
        stop.wait()
        proc.send_signal(signal.SIGINT)
        raw, err = proc.communicate(timeout=30)
        elapsed = time.monotonic() - started
        result = {"raw": raw, "seconds": elapsed, "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", raw).group(1))}
        for pct in ("50", "99"):
            result[f"p{pct}"] = _to_ms(re.search(rf"^\s+{pct}%\s+(\S+)", raw, re.M).group(1))
        non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", raw)
        result["non_2xx"] = int(non_2xx.group(1)) if non_2xx else 0
        errors = re.search(r"Socket errors: (.*)", raw)
        result["socket_errors"] = errors.group(1) if errors else ""
        result["requests"] = int(re.search(r"(\d+) requests in", raw).group(1))
        match = re.search(r"NOT_2XX (\d+)", raw)
        result["not_2xx"] = int(match.group(1)) if match else -1
        out[key] = result
    except Exception as exc:  # recorded, and the run fails
        out[key] = {"error": repr(exc)}


def _sessions(count: int) -> list[str]:
    """Session cookies of `count` MovieLens raters, made through Django's test client (same SECRET_KEY)."""
    from django.test import Client

    from accounts.models import User

    cookies = []
    for user in User.objects.filter(movielens_id__isnull=False).order_by("movielens_id")[:count]:
        client = Client()
        client.force_login(user)
        cookies.append(f"sessionid={client.cookies['sessionid'].value}")
    return cookies


class Sampler(threading.Thread):
    """One API client (one token) reading its recommendations in a loop; records (time, status, run)."""

    def __init__(self, url: str, token: str, stop: threading.Event):
        super().__init__(daemon=True)
        self.url, self.token, self.stop = url, token, stop
        self.seen: list[tuple[float, int, int | None]] = []
        self.errors: list[str] = []

    def run(self) -> None:
        request = urllib.request.Request(self.url, headers={"Authorization": f"Token {self.token}"})
        while not self.stop.is_set():
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    body = json.loads(response.read())
                    self.seen.append((time.monotonic(), response.status, body.get("run")))
            except urllib.error.HTTPError as exc:
                self.errors.append(f"HTTP {exc.code}")
            except Exception as exc:
                self.errors.append(repr(exc))
            time.sleep(0.02)


def _phase(url_base, api_script, page_script, args, duration, samplers_tokens, retrain=None):
    """wrk on the API and the page, samplers alongside, for `duration` s; with `retrain` (a callable that
    starts it and returns a function telling when it published, or None), until the later of `duration`
    and --after-switch seconds after the publish, at most --max-duration."""
    stop = threading.Event()
    samplers = [Sampler(url_base + API_PATH, token, stop) for token in samplers_tokens]
    results: dict = {}
    wrks = [
        threading.Thread(
            target=_run_wrk,
            args=(url_base + API_PATH, api_script, args.connections, args.wrk_threads, stop, results, "api"),
        ),
    ]
    if args.page_connections:
        wrks.append(
            threading.Thread(
                target=_run_wrk,
                args=(url_base + PAGE_PATH, page_script, args.page_connections, 1, stop, results, "page"),
            )
        )
    started = time.monotonic()
    loads = [os.getloadavg()]
    for thread in [*wrks, *samplers]:
        thread.start()
    published = retrain() if retrain else None
    while True:
        time.sleep(0.5)
        loads.append(os.getloadavg())
        now = time.monotonic()
        if now - started >= args.max_duration:
            break
        if now - started < duration:
            continue
        if published is None:
            break
        at = published()
        if at is not None and now - at >= args.after_switch:
            break
    stop.set()
    for thread in [*wrks, *samplers]:
        thread.join(timeout=40)
    return results, samplers, loads, time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=60, help="Seconds of load while the retrain runs (at least).")
    parser.add_argument(
        "--after-switch", type=float, default=10, help="Keep loading until this long after the publish."
    )
    parser.add_argument("--max-duration", type=int, default=300, help="Give up on the publish after this long.")
    parser.add_argument("--baseline", type=int, default=20, help="Seconds of load without a retrain.")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections on the API.")
    parser.add_argument("--page-connections", type=int, default=8, help="wrk connections on the page (0: none).")
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--users", type=int, default=64)
    parser.add_argument("--samplers", type=int, default=4)
    parser.add_argument("--retrain-delay", type=float, default=2.0, help="Seconds into the load to start it.")
    parser.add_argument("--skew-seconds", type=float, default=2.0, help="Old-run answers allowed after the switch.")
    args, retrain_args = parser.parse_known_args()
    # Without evaluation a retrain of ml-latest-small publishes well inside 60 s of load on 2 cores;
    # with it (pass --evaluate) it takes about 70 s there: raise --duration to 100.
    if "--evaluate" in retrain_args:
        retrain_args.remove("--evaluate")
    elif "--no-evaluate" not in retrain_args:
        retrain_args.append("--no-evaluate")

    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (Debian: apt-get install -y wrk).")
    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB)
    db_name = database_url.rsplit("/", 1)[1]
    secret = secrets.token_urlsafe(64)
    os.environ["SECRET_KEY"] = secret  # sessions made here must verify in gunicorn
    prepare_database(database_url)
    tokens = _tokens(args.users)
    cookies = _sessions(8)
    from django.db import connection

    from recommendations.models import TrainingRun
    from recommendations.selectors import training_run_active

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    old_run = training_run_active().pk
    connection.close()

    serve_env = serve_environment(database_url, secret_key=secret)
    retrain_env = {
        **serve_env,
        "LOG_LEVEL": "INFO",
        "TRAINING_RUNS_DIR": os.environ.get("TRAINING_RUNS_DIR", str(ROOT / "var" / "bench-runs" / db_name)),
    }
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        retrain_env.pop(name)
    port = _free_port()
    subprocess.run([sys.executable, str(ROOT / "manage.py"), "collectstatic", "--noinput", "-v0"], env=serve_env,
                   cwd=ROOT, check=True)  # fmt: skip
    server = start_gunicorn(port, serve_env, workers=args.workers, threads=args.threads)
    failures: list[str] = []
    retrain_proc = None
    retrain_lines: list[tuple[float, str]] = []
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_until_up(base + API_PATH, tokens[0])
        with tempfile.TemporaryDirectory() as tmp:
            api_script, page_script = Path(tmp) / "api.lua", Path(tmp) / "page.lua"
            api_script.write_text(_lua(API_PATH, "Authorization", [f"Token {t}" for t in tokens], "application/json"))
            page_script.write_text(_lua(PAGE_PATH, "Cookie", cookies, "text/html"))
            _wrk(base + API_PATH, api_script, args.connections, 5, args.wrk_threads)  # warm-up
            if args.page_connections:
                _wrk(base + PAGE_PATH, page_script, args.page_connections, 3, 1)
            connection.close()
            sampler_tokens = tokens[: args.samplers]

            print(f"baseline: {args.baseline}s without a retrain (active run {old_run}) ...", flush=True)
            baseline = _phase(base, api_script, page_script, args, args.baseline, sampler_tokens)

            def start_retrain():
                nonlocal retrain_proc
                time.sleep(args.retrain_delay)
                started = time.monotonic()
                retrain_proc = subprocess.Popen(
                    [sys.executable, str(ROOT / "manage.py"), "retrain", *retrain_args],
                    env=retrain_env,
                    cwd=ROOT,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                    start_new_session=True,
                )

                def read():
                    for line in retrain_proc.stdout:
                        retrain_lines.append((time.monotonic(), line.rstrip()))
                        if line.startswith("[") or "published" in line:
                            print(f"  retrain {time.monotonic() - started:6.1f}s  {line.rstrip()}", flush=True)

                threading.Thread(target=read, daemon=True).start()
                return lambda: next((t for t, line in retrain_lines if "published" in line), None)

            print(f"under retrain: {args.duration}s, `manage.py retrain {' '.join(retrain_args)}` ...", flush=True)
            loaded_started = time.monotonic()
            during = _phase(base, api_script, page_script, args, args.duration, sampler_tokens, retrain=start_retrain)
            loaded_ended = time.monotonic()
            if retrain_proc.poll() is None:
                failures.append("the retrain had not finished when the load ended (raise --max-duration)")
                retrain_proc.wait(timeout=600)
            time.sleep(0.5)
    finally:
        if retrain_proc is not None and retrain_proc.poll() is None:
            os.killpg(retrain_proc.pid, signal.SIGTERM)
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    # --- the new run ---
    active = TrainingRun.objects.filter(is_active=True).first()
    new_run = active.pk if active else None
    if retrain_proc.returncode != 0 or new_run == old_run:
        failures.append(f"the retrain did not publish (exit {retrain_proc.returncode}, active run {new_run})")
        print("\n".join(line for _, line in retrain_lines[-30:]))
    published_at = next((t for t, line in retrain_lines if "published" in line), None)
    if published_at is not None and not loaded_started < published_at < loaded_ended:
        failures.append("the new run was published outside the loaded window")

    # --- wrk figures ---
    for phase_name, (results, _, _, _) in (("baseline", baseline), ("retrain", during)):
        for key, result in results.items():
            if "error" in result:
                failures.append(f"{phase_name} wrk {key}: {result['error']}")
            elif result["not_2xx"] != 0 or result["non_2xx"] != 0 or result["socket_errors"]:
                failures.append(
                    f"{phase_name} wrk {key}: {result['not_2xx']} not-2xx responses, socket errors "
                    f"{result['socket_errors'] or 'none'}"
                )

    # --- what the samplers saw ---
    regressions = 0
    late_regressions = 0
    sampled = 0
    for phase_name, (_, samplers, _, _) in (("baseline", baseline), ("retrain", during)):
        for sampler in samplers:
            sampled += len(sampler.seen)
            if sampler.errors:
                failures.append(f"{phase_name} sampler: {len(sampler.errors)} errors, first {sampler.errors[0]}")
            runs = {run for _, _, run in sampler.seen}
            allowed = {old_run} if phase_name == "baseline" else {old_run, new_run}
            if not runs <= allowed:
                failures.append(f"{phase_name} sampler saw runs {sorted(runs - allowed, key=str)} (allowed {allowed})")
            if phase_name == "retrain":
                first_new = next((t for t, _, run in sampler.seen if run == new_run), None)
                if first_new is None:
                    failures.append("a sampler never saw the new run")
                    continue
                for t, _, run in sampler.seen:
                    if t > first_new and run == old_run:
                        regressions += 1
                        late_regressions += t - first_new > args.skew_seconds
    if late_regressions:
        failures.append(f"{late_regressions} old-run answers more than {args.skew_seconds}s after the switch")

    def row(label, phase):
        results, _, loads, seconds = phase
        api, page = results.get("api", {}), results.get("page")
        peak = max(load[0] for load in loads)
        mean = sum(load[0] for load in loads) / len(loads)
        label = f"{label} {seconds:.0f}s"

        def cell(result):
            if result is None:
                return "not loaded"
            if "rps" not in result:
                return "failed".ljust(44)
            return f"{result['rps']:7.1f} req/s  p50 {result['p50']:6.1f}  p99 {result['p99']:7.1f} ms"

        print(f"{label:<16}{cell(api):<46}{cell(page):<46}load avg 1-min mean {mean:.2f} peak {peak:.2f}")

    print(
        f"\n{os.cpu_count()} CPUs; gunicorn {args.workers}x{args.threads}; API {args.connections} connections, "
        f"page {args.page_connections} connections; runs {old_run} -> {new_run}"
    )
    print(f"{'':<16}{'GET ' + API_PATH:<46}{'GET ' + PAGE_PATH:<46}")
    row("baseline", baseline)
    row("retrain", during)
    counts = {k: v.get("requests") for k, v in during[0].items()}
    print(f"requests during the retrain: {counts}; sampled API responses: {sampled}")
    print(f"old-run answers after a sampler's first new-run answer (worker skew): {regressions}")
    if published_at is not None:
        print(f"published {published_at - loaded_started:.1f}s into the loaded window")
    if failures:
        print("\nFAILED:\n  " + "\n  ".join(failures))
        return 1
    print("\nOK: no errors, every answer from the old or the new run, one switch")
    return 0


if __name__ == "__main__":
    sys.exit(main())
