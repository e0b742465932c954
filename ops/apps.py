from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "ops"
    verbose_name = "Operations"

    def ready(self) -> None:
        # With the Redis broker, a dead worker's task is queued again or recorded as failed (ops.taskqueue).
        from django_q.signals import post_execute_in_worker, post_spawn, pre_execute

        from ops import taskqueue

        post_spawn.connect(taskqueue.on_worker_spawned, dispatch_uid="ops.taskqueue.spawned")
        pre_execute.connect(taskqueue.on_task_start, dispatch_uid="ops.taskqueue.start")
        post_execute_in_worker.connect(taskqueue.on_task_end, dispatch_uid="ops.taskqueue.end")
