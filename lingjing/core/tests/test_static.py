"""Static files in production: collected with hashed names and gzip + brotli copies, served with long caching."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from lingjing.core.tests.procs import clean_env, run_lingjing
from lingjing.core.tests.test_config import production_keys

PROBE = """
def main():
    import json
    from django.templatetags.static import static
    from django.test import Client
    client = Client(HTTP_HOST="lingjing.example.cn")
    hashed = static("css/site.css")
    seen = {"hashed": hashed}
    for encoding in ("br", "gzip", ""):
        response = client.get(hashed, secure=True, HTTP_ACCEPT_ENCODING=encoding)
        seen[encoding or "identity"] = [response.status_code, response.get("Content-Encoding", ""),
                                        response.get("Cache-Control", "")]
    print(json.dumps(seen))
main()
"""


@pytest.mark.process
def test_collectstatic_makes_hashed_compressed_files_that_whitenoise_serves(tmp_path: Path) -> None:
    env = clean_env(tmp_path, **production_keys())
    # The project's own files (the admin's and the API docs' bundles take a minute of brotli on two cores).
    collected = run_lingjing(env, "collectstatic", "--noinput", "-v", "0", "-i", "admin", "-i", "ninja", timeout=120)
    assert collected.returncode == 0, collected.stderr
    root = tmp_path / "static"
    manifest = json.loads((root / "staticfiles.json").read_text())
    hashed = manifest["paths"]["css/site.css"]
    assert re.fullmatch(r"css/site\.[0-9a-f]{12}\.css", hashed)
    for suffix in ("", ".gz", ".br"):
        assert (root / (hashed + suffix)).is_file(), hashed + suffix
    assert not (root / "css" / "site.css").exists()  # only hashed names are kept

    result = run_lingjing(env, "shell", "-c", PROBE)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["hashed"] == "/static/" + hashed  # templates' {% static %} gives the hashed name
    forever = "max-age=315360000, public, immutable"
    assert seen["br"] == [200, "br", forever]
    assert seen["gzip"] == [200, "gzip", forever]
    assert seen["identity"] == [200, "", forever]


def test_templates_link_static_files_through_the_static_tag() -> None:
    """A literal /static/ path would miss the hashed name in production (and its far-future caching)."""
    offenders = []
    for template in Path(settings.BASE_DIR).rglob("templates/**/*.html"):
        for number, line in enumerate(template.read_text(encoding="utf-8").splitlines(), start=1):
            if re.search(r"""(?:src|href)\s*=\s*["']/static/""", line):
                offenders.append(f"{template.relative_to(settings.BASE_DIR)}:{number}")
    assert offenders == []


@pytest.mark.django_db
def test_favicon_ico_leads_to_the_site_icon(client: Any) -> None:
    """The console (Django admin) names no icon, so browsers ask for /favicon.ico: no 404 in their console."""
    from django.templatetags.static import static

    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"] == static("favicon.svg")
    assert client.get(response["Location"]).status_code == 200
