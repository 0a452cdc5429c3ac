"""The Celery application, configured from Django settings (``CELERY_*``)."""

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "prepaid.settings")

app = Celery("prepaid")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def _close_old_database_connections(**kwargs) -> None:
    """Around each task what Django does around each request: drop a connection that is
    broken, errored or older than CONN_MAX_AGE (the next query opens a fresh one)."""
    from django.db import close_old_connections

    close_old_connections()
