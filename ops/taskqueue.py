"""Tasks whose worker died, with django-q2's Redis broker: queued again, then recorded as failed.

django-q2's Redis broker pops a task off its list and forgets it: Redis gives no delivery receipts, so
django-q2's `retry` (and with it `max_attempts`, which only counts tasks that raised) does nothing there. A
worker killed mid-task (the OOM killer, kill -9, a machine gone) would lose its task without a trace. So
with Q_REDIS_URL set, every qcluster worker keeps a lease on the task it runs:

- starting a task, it stores a claim (the task's package and how many times it was started) in one Redis
  hash, and a lease key that expires after Q_LEASE_SECONDS, renewed by a thread every third of that;
- finishing it, whether the task returned or raised (django-q2 records both), it drops claim and lease;
- every half lease, in each worker of every cluster, claims whose lease expired are reaped: their worker
  died. Whoever deletes the claim first (HDEL is atomic) acts on it, so two clusters never both do: the
  task is queued again until it was started Q_LOST_TASK_ATTEMPTS times, then saved as a failed task
  (django-q2's "Failed tasks" in the admin) and, for a retrain, its run is marked failed.

Not covered: tasks a cluster's pusher had taken off Redis but no worker had started yet (at most
queue_limit + 1 per cluster) are lost with the whole cluster. A worker alone dying loses none of them.
"""

from __future__ import annotations

import logging
import os
import threading

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

logger = logging.getLogger(__name__)

_current: dict = {}  # the task this worker process runs: id, stop event, heartbeat thread
_connection = None
_connection_pid = None


def enabled() -> bool:
    return bool(settings.Q_REDIS_URL)


def _redis():
    """One connection per process (workers are forked: never reuse the parent's socket)."""
    global _connection, _connection_pid
    if _connection is None or _connection_pid != os.getpid():
        import redis

        _connection = redis.from_url(settings.Q_REDIS_URL)
        _connection_pid = os.getpid()
    return _connection


def _claims_key() -> str:
    from django_q.conf import Conf

    return f"django_q:{Conf.PREFIX}:claims"


def _lease_key(task_id: str) -> str:
    from django_q.conf import Conf

    return f"django_q:{Conf.PREFIX}:lease:{task_id}"


def task_claim(*, task: dict) -> None:
    """Record that this worker starts `task` (a django-q2 task package) and hold its lease while it runs."""
    from django_q.signing import SignedPackage

    lease = settings.Q_LEASE_SECONDS
    package = {key: value for key, value in task.items() if key != "ack_id"}
    attempt = int(task.get("lost_attempts", 0)) + 1
    claim = SignedPackage.dumps({"attempt": attempt, "task": package})
    connection = _redis()
    # Lease first, claim second, in one transaction: a reaper never sees a claim without its lease.
    pipe = connection.pipeline(transaction=True)
    pipe.set(_lease_key(task["id"]), os.getpid(), px=int(lease * 1000))
    pipe.hset(_claims_key(), task["id"], claim)
    pipe.execute()

    stop = threading.Event()

    def renew():
        while not stop.wait(lease / 3):
            try:
                connection.pexpire(_lease_key(task["id"]), int(lease * 1000))
            except Exception:  # Redis briefly away: the next beat tries again
                logger.warning("task queue: could not renew the lease of task %s", task["id"], exc_info=True)

    thread = threading.Thread(target=renew, name=f"lease-{task['id']}", daemon=True)
    thread.start()
    _current.update(id=task["id"], stop=stop, thread=thread)


def task_release(*, task: dict) -> None:
    """The task ended (returned or raised): stop renewing, drop claim and lease."""
    if _current.get("id") == task["id"]:
        _current["stop"].set()
        _current["thread"].join(timeout=5)
        _current.clear()
    pipe = _redis().pipeline(transaction=True)
    pipe.hdel(_claims_key(), task["id"])
    pipe.delete(_lease_key(task["id"]))
    pipe.execute()


def tasks_reap_lost() -> list[tuple[str, str]]:
    """Queue again, or record as failed, every claimed task whose lease expired (its worker died).

    Returns (task id, "requeued" or "failed") for each task this call acted on.
    """
    from django_q.brokers import get_broker
    from django_q.signing import SignedPackage

    connection = _redis()
    acted = []
    for task_id, raw in connection.hgetall(_claims_key()).items():
        task_id = task_id.decode()
        if connection.exists(_lease_key(task_id)):
            continue
        if not connection.hdel(_claims_key(), task_id):
            continue  # another worker reaped it first
        claim = SignedPackage.loads(raw)
        task, attempt = claim["task"], claim["attempt"]
        if attempt < settings.Q_LOST_TASK_ATTEMPTS:
            task["lost_attempts"] = attempt
            get_broker().enqueue(SignedPackage.dumps(task))
            logger.warning("task queue: the worker running %s (%s) died; queued again", task["name"], task_id)
            acted.append((task_id, "requeued"))
        else:
            _record_failed(task, attempt)
            acted.append((task_id, "failed"))
    return acted


def _record_failed(task: dict, attempts: int) -> None:
    from django_q.brokers import get_broker
    from django_q.monitor import save_task

    from recommendations.services import training_run_fail_lost

    times = "once" if attempts == 1 else f"{attempts} times"
    limit = settings.Q_LOST_TASK_ATTEMPTS
    message = f"Lost: the worker running this task died (started {times}; Q_LOST_TASK_ATTEMPTS={limit})."
    task.update(result=message, success=False, stopped=timezone.now())
    try:
        save_task(task, get_broker())
        if task["func"] == settings.RETRAIN_TASK and task.get("args"):
            training_run_fail_lost(run_id=int(task["args"][0]), error=message)
    finally:
        close_old_connections()
    logger.error("task queue: gave up %s (%s): %s", task["name"], task["id"], message)


def _reaper_loop() -> None:
    interval = max(settings.Q_LEASE_SECONDS / 2, 0.5)
    while True:
        try:
            tasks_reap_lost()
        except Exception:
            logger.warning("task queue: reaping lost tasks failed", exc_info=True)
        threading.Event().wait(interval)


# --- django-q2 signals (connected in OpsConfig.ready) ---


def on_worker_spawned(sender, proc_name, **kwargs) -> None:
    if enabled():
        threading.Thread(target=_reaper_loop, name="lost-task-reaper", daemon=True).start()


# An exception in a django-q2 signal receiver would kill the worker and lose the task: log, never raise.


def on_task_start(sender, func, task, **kwargs) -> None:
    if enabled() and not task.get("sync", False):
        try:
            task_claim(task=task)
        except Exception:
            logger.exception("task queue: could not claim task %s; it runs without a lease", task.get("id"))


def on_task_end(sender, func, task, **kwargs) -> None:
    if enabled() and not task.get("sync", False):
        try:
            task_release(task=task)
        except Exception:
            logger.exception("task queue: could not release task %s", task.get("id"))
