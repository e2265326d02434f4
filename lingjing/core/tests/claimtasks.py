"""A task for the worker tests: records that it ran, in a table where a second run of the same task would fail.

Test-only: it writes a scratch table the test creates (``scale_claims``), not a model, so it has no action.
"""

from __future__ import annotations

import os
import time

from django.db import connection
from django.tasks import task

CLAIMS_TABLE = "scale_claims"
CREATE_TABLE = f"CREATE TABLE {CLAIMS_TABLE} (task_no integer PRIMARY KEY, worker_pid integer NOT NULL)"


@task(queue_name="default")
def record_claim(number: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {CLAIMS_TABLE} (task_no, worker_pid) VALUES (%s, %s)", [number, os.getpid()])  # noqa: S608
    time.sleep(0.1)  # long enough for the other workers to take the next tasks meanwhile
    return number
