"""A URLconf for tests/ops/test_logging.py: views that write log lines while handling a request."""

import logging
import threading

from django.http import HttpResponse
from django.urls import path

# Two requests that must be in flight at the same time (test_concurrent_requests_keep_their_own_ids).
both_in_flight = threading.Barrier(2, timeout=10)


def log_twice(request):
    logging.getLogger("tests.ops.views").warning("first line")
    logging.getLogger("recommendations.somewhere").warning("second line")
    return HttpResponse("ok")


def log_concurrently(request):
    both_in_flight.wait()
    logging.getLogger("tests.ops.views").warning("line of %s", request.GET["who"])
    return HttpResponse("ok")


urlpatterns = [
    path("log-twice", log_twice),
    path("log-concurrently", log_concurrently),
]
