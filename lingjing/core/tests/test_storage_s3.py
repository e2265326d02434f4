"""Media and exports on S3-compatible object storage, against a local S3 server (moto in server mode)."""

from __future__ import annotations

import io
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage, storages
from PIL import Image

from lingjing.core.scaleout import file_storages

BUCKET = "lingjing-media"
EXPORTS_BUCKET = "lingjing-exports"
KEYS = {"access_key": "test-access-key", "secret_key": "test-secret-key-0123456789"}


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:  # pragma: no cover - moto is a dev dependency
        pytest.skip("moto[server] is not installed")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    try:
        server.start()
    except OSError as exc:  # pragma: no cover - no loopback port to be had
        pytest.skip(f"the local S3 server could not start: {exc}")
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def client(endpoint: str) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=KEYS["access_key"],
        aws_secret_access_key=KEYS["secret_key"],
        region_name="us-east-1",
    )


@pytest.fixture
def s3(settings: Any, s3_endpoint: str) -> Iterator[Any]:
    """The project's storages on fresh buckets of the local server, configured exactly as settings.py does."""
    s3 = client(s3_endpoint)
    for bucket in (BUCKET, EXPORTS_BUCKET):
        s3.create_bucket(Bucket=bucket)
    settings.STORAGES = {
        **settings.STORAGES,
        **file_storages(
            media_root=settings.MEDIA_ROOT,
            exports_dir=settings.EXPORTS_DIR,
            bucket=BUCKET,
            exports_bucket=EXPORTS_BUCKET,
            endpoint_url=s3_endpoint,
            access_key=KEYS["access_key"],
            secret_key=KEYS["secret_key"],
            region="us-east-1",
        ),
    }
    yield s3
    for bucket in (BUCKET, EXPORTS_BUCKET):
        for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=item["Key"])
        s3.delete_bucket(Bucket=bucket)


def keys(s3: Any, bucket: str) -> set[str]:
    return {item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}


def test_media_round_trips_through_the_bucket_and_names_are_never_overwritten(s3: Any) -> None:
    first = default_storage.save("support/shot.png", ContentFile(b"first"))
    second = default_storage.save("support/shot.png", ContentFile(b"second"))
    assert first == "support/shot.png" and second != first  # no silent overwrite of someone else's file
    assert keys(s3, BUCKET) == {f"media/{first}", f"media/{second}"}
    with default_storage.open(first, "rb") as handle:
        assert handle.read() == b"first"
    assert default_storage.exists(second) and default_storage.size(second) == len(b"second")
    default_storage.delete(first)
    assert not default_storage.exists(first)
    assert keys(s3, BUCKET) == {f"media/{second}"}


def test_objects_are_private_and_urls_are_signed_and_expire(s3: Any) -> None:
    name = default_storage.save("avatars/a.png", ContentFile(b"png"))
    acl = s3.get_object_acl(Bucket=BUCKET, Key=f"media/{name}")
    grantees = {grant["Grantee"].get("URI", grant["Grantee"].get("ID")) for grant in acl["Grants"]}
    assert not any("AllUsers" in str(g) or "AuthenticatedUsers" in str(g) for g in grantees)
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(default_storage.url(name)).query)
    assert query["X-Amz-Expires"] == ["300"] and "X-Amz-Signature" in query


def test_exports_go_to_their_own_bucket_under_exports(s3: Any) -> None:
    name = storages["exports"].save("copies/req-1.zip", ContentFile(b"PK\x05\x06" + b"\0" * 18))
    assert keys(s3, EXPORTS_BUCKET) == {f"exports/{name}"}
    assert keys(s3, BUCKET) == set()
    with storages["exports"].open(name, "rb") as handle:
        assert handle.read(2) == b"PK"


@pytest.mark.django_db
def test_an_avatar_upload_is_stored_served_and_replaced_in_the_bucket(
    s3: Any, make_user: Any, client: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from lingjing.accounts.avatars import set_avatar

    user = make_user("alice")

    def upload(colour: str) -> io.BytesIO:
        buffer = io.BytesIO()
        Image.new("RGB", (64, 64), colour).save(buffer, format="PNG")
        buffer.seek(0)
        return buffer

    with django_capture_on_commit_callbacks(execute=True):
        set_avatar(user, upload("red"), acting_user=user)
    user.refresh_from_db()
    first = {f"media/{user.avatar}", f"media/{user.avatar_thumb}"}
    assert keys(s3, BUCKET) == first

    client.force_login(user)
    response = client.get(f"/accounts/avatar/{user.avatar.rsplit('/', 1)[-1]}")
    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"\x89PNG")

    with django_capture_on_commit_callbacks(execute=True):
        set_avatar(user, upload("blue"), acting_user=user)
    user.refresh_from_db()
    assert keys(s3, BUCKET) == {f"media/{user.avatar}", f"media/{user.avatar_thumb}"}  # the old pair is gone
    assert not first & keys(s3, BUCKET)
