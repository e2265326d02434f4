"""Settings for running on distributed services: read replicas, the task queue on Redis, object storage, sessions.

``lingjing/settings.py`` calls these with values it read from the environment; each returns plain settings
values and raises ``ImproperlyConfigured`` with a one-line reason on a bad combination. Nothing here runs at
request time. ``docs/deploy.md`` describes the variables; the embedded defaults (SQLite, the database task
queue, local files) need none of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from lingjing.core.env import parse_database_url, redact_url

REPLICA_PREFIX = "replica_"

# Short names accepted by LINGJING_TASK_BACKEND; anything containing a dot is taken as a backend class path.
TASK_BACKENDS = {
    "database": "django_tasks_db.DatabaseBackend",
    "rq": "lingjing.core.taskqueue.RQBackend",
    "immediate": "django.tasks.backends.immediate.ImmediateBackend",
}
DATABASE_BACKEND = TASK_BACKENDS["database"]
RQ_BACKEND = TASK_BACKENDS["rq"]


def replica_databases(urls: list[str], primary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``replica_1``, ``replica_2``, … from DATABASE_REPLICA_URLS, each a read-only copy of the primary.

    In tests a replica mirrors the primary (Django points the alias at the test database instead of creating
    one), so code that reads from a replica sees what the test wrote.
    """
    replicas: dict[str, dict[str, Any]] = {}
    for number, url in enumerate(urls, start=1):
        config = parse_database_url(url)
        if config["ENGINE"] != primary["ENGINE"]:
            raise ImproperlyConfigured(
                f"DATABASE_REPLICA_URLS: {redact_url(url)!r} is not the same kind of database as the primary"
            )
        config["TEST"] = {"MIRROR": "default"}
        replicas[f"{REPLICA_PREFIX}{number}"] = config
    return replicas


def task_backend(choice: str, *, test: bool, redis_url: str, tasks_on_redis: bool) -> str:
    """The django.tasks backend class path.

    ``choice`` is LINGJING_TASK_BACKEND: empty picks the default (the database queue; tests run tasks
    immediately; RQ when LINGJING_TASKS_ON_REDIS is on and REDIS_URL is set), a short name from
    ``TASK_BACKENDS`` or a class path.
    """
    if not choice:
        if tasks_on_redis:
            if not redis_url:
                raise ImproperlyConfigured("LINGJING_TASKS_ON_REDIS needs REDIS_URL")
            return RQ_BACKEND
        return TASK_BACKENDS["immediate"] if test else DATABASE_BACKEND
    backend = TASK_BACKENDS.get(choice.lower(), choice)
    if "." not in backend:
        names = ", ".join(TASK_BACKENDS)
        raise ImproperlyConfigured(f"LINGJING_TASK_BACKEND must be one of {names} or a class path, not {choice!r}")
    if backend == RQ_BACKEND and not redis_url:
        raise ImproperlyConfigured("LINGJING_TASK_BACKEND=rq needs REDIS_URL (or LINGJING_RQ_REDIS_URL)")
    return backend


def rq_queues(queues: Sequence[str], redis_url: str, *, timeout: int) -> dict[str, dict[str, Any]]:
    """django-rq's RQ_QUEUES: every django.tasks queue on the same Redis, with a job timeout for long steps."""
    return {name: {"URL": redis_url, "DEFAULT_TIMEOUT": timeout} for name in queues}


def session_engine(choice: str, *, redis_url: str) -> str:
    """``db`` (default): sessions in the database. ``cache_db``: read through the cache (Redis), written to both."""
    engines = {"db": "django.contrib.sessions.backends.db", "cache_db": "django.contrib.sessions.backends.cached_db"}
    if choice not in engines:
        raise ImproperlyConfigured(f"LINGJING_SESSION_ENGINE must be db or cache_db, not {choice!r}")
    if choice == "cache_db" and not redis_url:
        raise ImproperlyConfigured("LINGJING_SESSION_ENGINE=cache_db needs REDIS_URL (a shared cache)")
    return engines[choice]


def file_storages(
    *,
    media_root: Path,
    exports_dir: Path,
    bucket: str,
    exports_bucket: str = "",
    endpoint_url: str = "",
    access_key: str = "",
    secret_key: str = "",
    region: str = "",
    addressing_style: str = "",
    url_expire: int = 300,
) -> dict[str, dict[str, Any]]:
    """The ``default`` (media) and ``exports`` storages: local folders, or S3-compatible buckets when ``bucket``.

    Objects are private: no ACL is set (the bucket's default, which must not be public), and any URL handed out
    is signed and expires after ``url_expire`` seconds. The site itself streams media through its own views,
    which check access first; signed URLs are for downloads that a view has already authorised.
    Names are never overwritten (``file_overwrite`` off): a second upload with the same name gets a suffix,
    as on the local disk.
    """
    if not bucket:
        if exports_bucket:
            raise ImproperlyConfigured("LINGJING_S3_EXPORTS_BUCKET needs LINGJING_S3_BUCKET")
        return {
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "exports": {
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": str(exports_dir), "base_url": None},
            },
        }
    if endpoint_url and not endpoint_url.startswith(("https://", "http://")):
        raise ImproperlyConfigured(f"LINGJING_S3_ENDPOINT_URL must be an http(s) URL, not {endpoint_url!r}")
    if bool(access_key) != bool(secret_key):
        raise ImproperlyConfigured("LINGJING_S3_ACCESS_KEY_ID and LINGJING_S3_SECRET_ACCESS_KEY go together")
    if addressing_style not in ("", "path", "virtual", "auto"):
        raise ImproperlyConfigured(
            f"LINGJING_S3_ADDRESSING_STYLE must be path, virtual or auto, not {addressing_style!r}"
        )
    common: dict[str, Any] = {
        "default_acl": None,
        "querystring_auth": True,
        "querystring_expire": url_expire,
        "file_overwrite": False,
        "signature_version": "s3v4",
        # Self-hosted servers (MinIO, Ceph, the test server) are usually addressed by path.
        "addressing_style": addressing_style or ("path" if endpoint_url else None),
    }
    if endpoint_url:
        common["endpoint_url"] = endpoint_url
    if access_key:
        common["access_key"] = access_key
        common["secret_key"] = secret_key
    if region:
        common["region_name"] = region
    return {
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {**common, "bucket_name": bucket, "location": "media"},
        },
        "exports": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {**common, "bucket_name": exports_bucket or bucket, "location": "exports"},
        },
    }
