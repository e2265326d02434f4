"""Deployment checks: security headers on pages and the API, HSTS under production settings, and the CI secret
scan (`.ci/secret-scan`), which must pass on the repository and must catch each kind of secret.
(`lingjing check --deploy` under production settings is lingjing/core/tests/test_config.py's.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from lingjing.core.tests.procs import clean_env, run_lingjing
from lingjing.core.tests.test_config import production_keys

ROOT = Path(__file__).resolve().parents[4]
SCAN = ROOT / ".ci" / "secret-scan"
PAGES = ["/", "/privacy/", "/privacy/policy", "/help/", "/accounts/login/", "/healthz", "/no-such-page"]
API = ["/api/v1/healthz", "/api/v1/works", "/api/v1/me", "/api/v1/no-such-endpoint"]


def _csp(response: Any) -> dict[str, str]:
    header = response.get("Content-Security-Policy", "")
    return {part.split()[0]: part.strip() for part in header.split(";") if part.strip()}


@pytest.mark.django_db
@pytest.mark.parametrize("path", PAGES + API)
def test_every_answer_carries_the_security_headers(path: str) -> None:
    response = Client().get(path)
    assert response["X-Content-Type-Options"] == "nosniff", path
    assert response["Referrer-Policy"] == "same-origin", path
    assert response["Cross-Origin-Opener-Policy"] == "same-origin", path
    assert response["X-Frame-Options"] == "DENY", path
    csp = _csp(response)
    assert csp.get("frame-ancestors") == "frame-ancestors 'none'", (path, csp)
    assert csp.get("object-src") == "object-src 'none'", (path, csp)
    assert "'unsafe-inline'" not in csp.get("script-src", "") and "'unsafe-eval'" not in csp.get("script-src", "")


@pytest.mark.django_db
def test_page_scripts_run_only_with_the_requests_nonce() -> None:
    import re

    first, second = Client().get("/"), Client().get("/")
    nonce = re.search(r"'nonce-([^']+)'", _csp(first)["script-src"])
    assert nonce, _csp(first)
    assert nonce.group(1) not in second["Content-Security-Policy"], "a fresh nonce per response"
    html = first.content.decode()
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert f'nonce="{nonce.group(1)}"' in tag or "src=" in tag, tag


PROBE = """
import json, django
django.setup()
from django.test import Client
r = Client().get("/healthz", secure=True, headers={"Host": "lingjing.example.cn"})
plain = Client().get("/healthz", headers={"Host": "lingjing.example.cn"})
print(json.dumps({"hsts": r.get("Strict-Transport-Security", ""), "plain_status": plain.status_code,
                  "plain_location": plain.get("Location", ""), "csp": r.get("Content-Security-Policy", "")}))
"""


@pytest.mark.process
def test_production_settings_send_hsts_and_redirect_to_https(tmp_path: Path) -> None:
    env = clean_env(tmp_path, **production_keys(), DJANGO_SETTINGS_MODULE="lingjing.settings")
    assert run_lingjing(env, "migrate", "--noinput").returncode == 0
    result = subprocess.run([sys.executable, "-c", PROBE], env=env, cwd=ROOT, capture_output=True, text=True,  # noqa: S603
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["hsts"] == "max-age=31536000; includeSubDomains; preload", seen
    assert seen["plain_status"] == 301 and seen["plain_location"].startswith("https://"), seen
    assert "frame-ancestors 'none'" in seen["csp"]


# --- the secret scan -------------------------------------------------------------------------------------


def _scan(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCAN), str(root)], capture_output=True, text=True, timeout=60,  # noqa: S603
                          check=False)


def test_the_repository_has_no_secrets() -> None:
    result = _scan(ROOT)
    assert result.returncode == 0, result.stdout


def test_the_scan_finds_each_kind_of_secret(tmp_path: Path) -> None:
    import base64
    import os

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)  # noqa: S603, S607

    git("init", "-q")
    (tmp_path / "clean.py").write_text('TITLE = "灵境"\nHASH = "' + "ab12" * 16 + '"\nURL = "https://example.cn/a/b"\n')
    (tmp_path / "key.txt").write_text("-----BEGIN " + "OPENSSH PRIVATE KEY-----\nAAAA\n")
    (tmp_path / "aws.py").write_text('KEY = "AKIA' + "ABCDEFGHIJKLMNOP" + '"\n')
    (tmp_path / "settings.py").write_text(f'MASTER = "{base64.b64encode(os.urandom(32)).decode()}"\n')
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text(f'FIXED = "{base64.b64encode(os.urandom(32)).decode()}"\n')
    (tmp_path / "var" / "keys").mkdir(parents=True)
    (tmp_path / "var" / "keys" / "master.key").write_text("x\n")
    git("add", "-f", ".")
    result = _scan(tmp_path)
    assert result.returncode == 1
    found = result.stdout
    assert "key.txt:1: private key" in found
    assert "aws.py:1: AWS-style key" in found
    assert "settings.py:1: high-entropy string" in found
    assert "var/keys/master.key" in found
    assert "clean.py" not in found and "tests/test_x.py" not in found  # hex digests, URLs, test fixtures
