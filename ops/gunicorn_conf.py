"""gunicorn hooks for Prometheus' multiprocess mode: `gunicorn -c python:ops.gunicorn_conf ...`.

Only does something when PROMETHEUS_MULTIPROC_DIR is set in gunicorn's environment. Workers then
write their metric values to files in that folder and /metrics adds them up (ops.metrics):

- on start, the folder is emptied: values left by a previous run would be counted again;
- when a worker exits, its live gauges are dropped (prometheus-client's mark_process_dead).

Also puts the request id into gunicorn's access log line (the X-Request-ID response header),
so access lines and the application's lines can be matched, and allows request lines up to
gunicorn's maximum.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

# gunicorn's maximum (its default is 4094 bytes): a long API query string reaches Django, which answers
# a JSON 414 above movierec_site.api_errors.MAX_QUERY_STRING_BYTES, instead of gunicorn's HTML one.
limit_request_line = 8190

access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms request_id=%({x-request-id}o)s'


def on_starting(server) -> None:
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not folder:
        return
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    for child in path.iterdir():
        if child.is_dir():
            shutil.rmtree(child)
        else:
            child.unlink()


def child_exit(server, worker) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
