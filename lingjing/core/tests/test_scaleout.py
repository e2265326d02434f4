"""Configuration for scale: replicas and the router, the task backend choice, sessions, storages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connections
from django.http import HttpResponse
from django.test import RequestFactory

from lingjing.core import scaleout
from lingjing.core.dbrouter import ReplicaReadMiddleware, ReplicaRouter, public_reads
from lingjing.core.tests.procs import clean_env, run_lingjing
from lingjing.core.tests.test_serve import copy_test_database
from lingjing.works.models import Work

# --- settings helpers -------------------------------------------------------------------------------------


def test_task_backend_defaults_short_names_and_redis() -> None:
    pick = scaleout.task_backend
    assert pick("", test=False, redis_url="", tasks_on_redis=False) == scaleout.DATABASE_BACKEND
    assert pick("", test=True, redis_url="", tasks_on_redis=False).endswith("ImmediateBackend")
    assert pick("", test=False, redis_url="redis://r/0", tasks_on_redis=False) == scaleout.DATABASE_BACKEND
    assert pick("", test=False, redis_url="redis://r/0", tasks_on_redis=True) == scaleout.RQ_BACKEND
    assert pick("RQ", test=True, redis_url="redis://r/0", tasks_on_redis=False) == scaleout.RQ_BACKEND
    assert pick("database", test=True, redis_url="", tasks_on_redis=False) == scaleout.DATABASE_BACKEND
    assert pick("my.Backend", test=False, redis_url="", tasks_on_redis=False) == "my.Backend"
    with pytest.raises(ImproperlyConfigured, match="needs REDIS_URL"):
        pick("rq", test=False, redis_url="", tasks_on_redis=False)
    with pytest.raises(ImproperlyConfigured, match="needs REDIS_URL"):
        pick("", test=False, redis_url="", tasks_on_redis=True)
    with pytest.raises(ImproperlyConfigured, match="one of database, rq, immediate"):
        pick("celery", test=False, redis_url="", tasks_on_redis=False)


def test_replicas_mirror_the_primary_in_tests_and_must_be_the_same_engine() -> None:
    primary = {"ENGINE": "django.db.backends.postgresql"}
    replicas = scaleout.replica_databases(
        ["postgres://reader:secret@10.0.0.2:5432/lingjing", "postgres://reader@10.0.0.3/lingjing"], primary
    )
    assert list(replicas) == ["replica_1", "replica_2"]
    assert replicas["replica_1"]["HOST"] == "10.0.0.2" and replicas["replica_1"]["TEST"] == {"MIRROR": "default"}
    assert replicas["replica_2"]["OPTIONS"]["pool"]["max_size"] == 8  # pooled like the primary
    with pytest.raises(ImproperlyConfigured) as caught:
        scaleout.replica_databases(["sqlite:////tmp/x.sqlite3"], primary)
    with pytest.raises(ImproperlyConfigured) as bad:
        scaleout.replica_databases(["mysql://u:hunter2@h/db"], primary)
    assert "not the same kind" in str(caught.value) and "hunter2" not in str(bad.value)


def test_sessions_on_the_cache_need_redis() -> None:
    assert scaleout.session_engine("db", redis_url="") == "django.contrib.sessions.backends.db"
    assert scaleout.session_engine("cache_db", redis_url="redis://r/0").endswith("cached_db")
    with pytest.raises(ImproperlyConfigured):
        scaleout.session_engine("cache_db", redis_url="")
    with pytest.raises(ImproperlyConfigured):
        scaleout.session_engine("file", redis_url="")


def test_storages_are_local_by_default_and_private_signed_buckets_with_s3(tmp_path: Path) -> None:
    local = scaleout.file_storages(media_root=tmp_path / "m", exports_dir=tmp_path / "e", bucket="")
    assert local["default"]["BACKEND"].endswith("FileSystemStorage")
    assert local["exports"]["OPTIONS"]["location"] == str(tmp_path / "e")
    s3 = scaleout.file_storages(
        media_root=tmp_path, exports_dir=tmp_path, bucket="media", endpoint_url="http://127.0.0.1:9000",
        access_key="k", secret_key="s", region="cn-hangzhou",
    )  # fmt: skip
    options = s3["default"]["OPTIONS"]
    assert options["bucket_name"] == "media" and options["location"] == "media"
    assert options["default_acl"] is None and options["querystring_auth"] is True
    assert options["file_overwrite"] is False and options["addressing_style"] == "path"
    assert s3["exports"]["OPTIONS"]["bucket_name"] == "media" and s3["exports"]["OPTIONS"]["location"] == "exports"
    for bad in ({"endpoint_url": "ftp://x"}, {"access_key": "k"}, {"addressing_style": "sideways"}):
        with pytest.raises(ImproperlyConfigured):
            scaleout.file_storages(media_root=tmp_path, exports_dir=tmp_path, bucket="b", **bad)  # type: ignore[arg-type]
    with pytest.raises(ImproperlyConfigured):
        scaleout.file_storages(media_root=tmp_path, exports_dir=tmp_path, bucket="", exports_bucket="e")


@pytest.mark.process
def test_the_environment_switches_every_service_on(tmp_path: Path) -> None:
    env = clean_env(
        tmp_path,
        DATABASE_URL="postgres://app@127.0.0.1:5432/lingjing",
        DATABASE_REPLICA_URLS="postgres://reader@127.0.0.2/lingjing,postgres://reader@127.0.0.3/lingjing",
        REDIS_URL="redis://127.0.0.1:6379/3",
        LINGJING_TASKS_ON_REDIS="1",
        LINGJING_SESSION_ENGINE="cache_db",
        LINGJING_S3_BUCKET="lj-media",
        LINGJING_S3_ENDPOINT_URL="http://127.0.0.1:9000",
    )
    show = (
        "import json; from django.conf import settings as s; print(json.dumps({'dbs': list(s.DATABASES), "
        "'routers': s.DATABASE_ROUTERS, 'tasks': s.TASKS['default']['BACKEND'], 'rq': sorted(s.RQ_QUEUES), "
        "'rq_url': s.RQ_QUEUES['studio']['URL'], 'apps': 'django_rq' in s.INSTALLED_APPS, "
        "'session': s.SESSION_ENGINE, 'media': s.STORAGES['default']['BACKEND']}))"
    )
    result = run_lingjing(env, "shell", "-c", show)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen == {
        "dbs": ["default", "replica_1", "replica_2"],
        "routers": ["lingjing.core.dbrouter.ReplicaRouter"],
        "tasks": scaleout.RQ_BACKEND,
        "rq": ["default", "notify", "privacy", "studio"],
        "rq_url": "redis://127.0.0.1:6379/3",
        "apps": True,
        "session": "django.contrib.sessions.backends.cached_db",
        "media": "storages.backends.s3.S3Storage",
    }
    refused = run_lingjing(clean_env(tmp_path, DATABASE_REPLICA_URLS="postgres://r@h/db"), "check")
    assert refused.returncode == 2 and "needs DATABASE_URL" in refused.stderr


# --- the router -------------------------------------------------------------------------------------------


@pytest.fixture
def one_replica(settings: Any) -> None:
    settings.LINGJING_DB_REPLICAS = ["replica_1"]
    settings.DATABASE_ROUTERS = ["lingjing.core.dbrouter.ReplicaRouter"]


def test_public_reads_of_public_models_go_to_the_replica_and_nothing_else_does(one_replica: None) -> None:
    from lingjing.accounts.models import User

    assert Work.objects.all().db == "default"  # outside a public read
    with public_reads() as alias:
        assert alias == "replica_1"
        assert Work.objects.all().db == "replica_1"
        assert User.objects.all().db == "default"  # not a public app


def test_a_transaction_or_a_write_pins_the_rest_to_the_primary(one_replica: None, monkeypatch: Any) -> None:
    router = ReplicaRouter()
    with public_reads():
        with monkeypatch.context() as inside:  # (a real atomic block: test_a_real_replica_answers_public_reads)
            inside.setattr(connections["default"], "in_atomic_block", True)
            assert Work.objects.all().db == "default"
        assert Work.objects.all().db == "replica_1"
        assert router.db_for_write(Work) == "default"
        assert Work.objects.all().db == "default"  # read-your-writes for the rest of the request
    assert router.allow_migrate("replica_1", "works") is False and router.allow_migrate("default", "works") is True


def test_only_anonymous_gets_are_public_reads(one_replica: None) -> None:
    seen: list[str] = []

    def view(request: Any) -> HttpResponse:
        seen.append(Work.objects.all().db)
        return HttpResponse()

    middleware = ReplicaReadMiddleware(view)
    rf = RequestFactory()
    middleware(rf.get("/works/"))
    middleware(rf.head("/search"))
    middleware(rf.post("/works/"))
    signed_in = rf.get("/works/")
    signed_in.COOKIES["sessionid"] = "abc"
    middleware(signed_in)
    middleware(rf.get("/api/v1/works", HTTP_AUTHORIZATION="Bearer t"))
    assert seen == ["replica_1", "replica_1", "default", "default", "default"]


def test_without_replicas_public_reads_change_nothing() -> None:
    with public_reads() as alias:
        assert alias is None
        assert Work.objects.all().db == "default"


@pytest.mark.process
@pytest.mark.django_db
def test_a_real_replica_answers_public_reads(tmp_path: Path) -> None:
    """Two SQLite files stand in for a primary and its replica: a row only the replica holds is seen exactly
    when the rules allow a replica read."""
    primary, replica = tmp_path / "primary.sqlite3", tmp_path / "replica.sqlite3"
    if not (copy_test_database(primary) and copy_test_database(replica)):
        pytest.skip("needs the in-memory SQLite test database to copy (the default test setup)")
    env = clean_env(tmp_path, DATABASE_URL=f"sqlite:///{primary}", DATABASE_REPLICA_URL=f"sqlite:///{replica}")
    script = """
def main():
    import json
    from django.db import transaction
    from lingjing.core.dbrouter import public_reads
    from lingjing.works.models import Work

    def titles():
        return list(Work.objects.values_list("title", flat=True))

    Work.objects.using("replica_1").bulk_create([Work(title="只在副本里")])
    seen = {"primary": titles()}
    with public_reads():
        seen["public"] = titles()
        with transaction.atomic():
            seen["in_transaction"] = titles()
        Work.objects.filter(title="没有这部作品").update(status="draft")
        seen["after_write"] = titles()
    print(json.dumps(seen, ensure_ascii=False))
main()
"""
    result = run_lingjing(env, "shell", "-c", script)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen == {"primary": [], "public": ["只在副本里"], "in_transaction": [], "after_write": []}
