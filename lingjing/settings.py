"""The one settings module. Every value comes from the environment, is checked, and fails loudly.

Embedded defaults (SQLite in ``LINGJING_DATA_DIR``, local media, database task queue, locally generated
development keys) let a fresh clone run with nothing but Python. ``LINGJING_ENV=production`` refuses to
start without real keys and turns on the HTTPS settings that ``manage.py check --deploy`` expects.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

from lingjing.core.env import envbool, envint, envlist, envstr
from lingjing.core.keyfiles import load_or_create_keys

BASE_DIR = Path(__file__).resolve().parent

LINGJING_ENV = envstr("LINGJING_ENV", "development")
if LINGJING_ENV not in ("development", "production", "test"):
    raise ImproperlyConfigured(f"LINGJING_ENV must be development, production or test, not {LINGJING_ENV!r}")
PRODUCTION = LINGJING_ENV == "production"

DATA_DIR = Path(envstr("LINGJING_DATA_DIR", "./var")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

# --- keys -------------------------------------------------------------------------------------------------
# Development: generated once into DATA_DIR/keys (0600). Production: required from the environment.
_keys = load_or_create_keys(DATA_DIR / "keys", production=PRODUCTION)
SECRET_KEY = _keys.secret_key
LINGJING_MASTER_KEYS: dict[str, bytes] = _keys.master_keys  # key id -> 32 bytes; first is current
LINGJING_CURRENT_MASTER_KEY_ID: str = _keys.current_master_key_id
LINGJING_BLIND_INDEX_KEY: bytes = _keys.blind_index_key
LINGJING_AUDIT_SIGNING_KEY: bytes = _keys.audit_signing_key  # Ed25519 private key, 32 raw bytes

DEBUG = envbool("LINGJING_DEBUG", default=not PRODUCTION)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("LINGJING_DEBUG must not be on in production")
# Fault-injection tests only (lingjing/core/faults.py): a checkpoint where the process waits to be killed.
LINGJING_FAULT_POINT = envstr("LINGJING_FAULT_POINT", "")
if PRODUCTION and LINGJING_FAULT_POINT:
    raise ImproperlyConfigured("LINGJING_FAULT_POINT is for tests and must not be set in production")

ALLOWED_HOSTS = envlist("LINGJING_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = envlist("LINGJING_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_tasks_db",
    "ninja",  # its bundled Swagger UI for /api/v1/docs (the CDN copy is blocked by the CSP)
    "lingjing.core",
    "lingjing.security",
    "lingjing.privacy",
    "lingjing.accounts",
    "lingjing.works",
    "lingjing.studio",
    "lingjing.consent",
    "lingjing.sharing",
    "lingjing.decisions",
    "lingjing.children",
    "lingjing.notify",
    "lingjing.support",
    "lingjing.secops",
    "lingjing.community",
    "lingjing.search",
]

# Apps whose models hold personal data: every concrete field there must be declared in the registry.
LINGJING_PERSONAL_DATA_APPS = [
    "security", "privacy", "accounts", "works", "studio", "consent",
    "sharing", "decisions", "children",
    "notify", "support",
    "secops",
    "community", "search",
]
if LINGJING_ENV == "test":  # models that exercise the export and erasure engines (lingjing/privacy/tests/testapp)
    INSTALLED_APPS.append("lingjing.privacy.tests.testapp")
    LINGJING_PERSONAL_DATA_APPS.append("privacy_testapp")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.gzip.GZipMiddleware",
    "lingjing.core.cachecontrol.CacheControlMiddleware",  # public pages cacheable for a minute, the rest private
    "lingjing.core.dbrouter.ReplicaReadMiddleware",  # anonymous reads of public pages may use a read replica
    "lingjing.core.middleware.ApiErrorMiddleware",
    "lingjing.consent.middleware.CookieConsentMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "lingjing.core.middleware.LocaleMiddleware",  # Chinese first; English when chosen
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "lingjing.core.middleware.RequestSizeMiddleware",  # 413 for a body over LINGJING_MAX_REQUEST_BYTES, unread
    "lingjing.privacy.requests.middleware.ClosingAccountMiddleware",  # cancellation window: sign-in only to undo
    "lingjing.secops.middleware.RateLimitMiddleware",  # per-address and per-account request limits (429)
    "lingjing.secops.middleware.StaffSessionMiddleware",  # staff: 12 h per sign-in, 30 min idle
    "lingjing.secops.middleware.ConsoleGateMiddleware",  # staff: TOTP and current training to enter the console
    "lingjing.consent.middleware.PrivacyMiddleware",
    "lingjing.core.cachecontrol.PublicApiCacheMiddleware",  # anonymous feed API answers from the shared cache
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "lingjing.urls"
WSGI_APPLICATION = "lingjing.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "lingjing.core.context.site",
            ],
        },
    },
]

# --- database ---------------------------------------------------------------------------------------------
DATABASE_URL = envstr("DATABASE_URL", "")
DATABASES: dict[str, dict[str, Any]]
if DATABASE_URL:
    from lingjing.core.env import parse_database_url

    DATABASES = {"default": parse_database_url(DATABASE_URL)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "lingjing.sqlite3",
            "OPTIONS": {
                # WAL lets the web server and the worker read while one writes; IMMEDIATE avoids
                # upgrade deadlocks between concurrent writers.
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                # secure_delete: erased rows are overwritten in the file, not just unlinked.
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                    "PRAGMA foreign_keys=ON; PRAGMA secure_delete=ON;"
                ),
            },
            "TEST": {"NAME": str(DATA_DIR / "test.sqlite3")} if envbool("LINGJING_TEST_DB_FILE", False) else {},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Read replicas (docs/deploy.md): DATABASE_REPLICA_URLS, comma-separated (or one DATABASE_REPLICA_URL). Anonymous
# GET requests read the apps in LINGJING_REPLICA_APPS from them; everything else reads and writes the primary.
_replica_urls = envlist("DATABASE_REPLICA_URLS", []) or envlist("DATABASE_REPLICA_URL", [])
if _replica_urls:
    from lingjing.core.scaleout import replica_databases

    if not DATABASE_URL:
        raise ImproperlyConfigured("DATABASE_REPLICA_URLS needs DATABASE_URL (the primary)")
    DATABASES.update(replica_databases(_replica_urls, DATABASES["default"]))
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A new SQLite connection runs the PRAGMAs above (about 8 ms, mostly journal_mode): keep each gunicorn
    # thread's connection open across requests (docs/deploy.md). PostgreSQL uses its pool instead.
    DATABASES["default"]["CONN_MAX_AGE"] = envint("LINGJING_SQLITE_CONN_MAX_AGE", 600, minimum=0)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
LINGJING_DB_REPLICAS = [alias for alias in DATABASES if alias != "default"]
LINGJING_REPLICA_APPS = envlist("LINGJING_REPLICA_APPS", ["works", "search"])
DATABASE_ROUTERS = ["lingjing.core.dbrouter.ReplicaRouter"] if LINGJING_DB_REPLICAS else []

# --- cache, rate limits -----------------------------------------------------------------------------------
REDIS_URL = envstr("REDIS_URL", "")
CACHES: dict[str, dict[str, Any]]
if REDIS_URL:
    if not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
        raise ImproperlyConfigured(f"REDIS_URL must start with redis://, rediss:// or unix://, not {REDIS_URL!r}")
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    if LINGJING_ENV == "test" and os.environ.get("PYTEST_XDIST_WORKER"):
        # Parallel test workers each get their own key prefix, so one worker's cache.clear() spares the others.
        CACHES["default"]["KEY_PREFIX"] = "t" + os.environ["PYTEST_XDIST_WORKER"]
else:
    CACHES = {
        # Rate-limit counters live here: a high MAX_ENTRIES keeps culling from resetting them.
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "lingjing_cache",
            "OPTIONS": {"MAX_ENTRIES": envint("LINGJING_DB_CACHE_MAX_ENTRIES", 200_000, minimum=1000)},
        }
    }

# --- tasks ------------------------------------------------------------------------------------------------
from lingjing.core.scaleout import RQ_BACKEND, rq_queues, task_backend  # noqa: E402

TASKS = {
    "default": {
        # database (default) | rq | immediate | a class path; rq also when LINGJING_TASKS_ON_REDIS=1 (deploy.md)
        "BACKEND": task_backend(
            envstr("LINGJING_TASK_BACKEND", ""),
            test=LINGJING_ENV == "test",
            redis_url=envstr("LINGJING_RQ_REDIS_URL", REDIS_URL),
            tasks_on_redis=envbool("LINGJING_TASKS_ON_REDIS", False),
        ),
        "QUEUES": ["default", "studio", "privacy", "notify"],
    }
}
if TASKS["default"]["BACKEND"] == RQ_BACKEND:
    # The queue on Redis (django-tasks-rq): `lingjing worker` starts RQ workers. A Redis that evicts keys under
    # memory pressure would drop queued jobs: LINGJING_RQ_REDIS_URL can point the queue at a separate instance.
    INSTALLED_APPS.append("django_rq")
    RQ_QUEUES = rq_queues(
        TASKS["default"]["QUEUES"],
        envstr("LINGJING_RQ_REDIS_URL", REDIS_URL),
        timeout=envint("LINGJING_RQ_JOB_TIMEOUT", 3600, minimum=10),
    )

# --- auth -------------------------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "lingjing.accounts.validators.MaximumLengthValidator", "OPTIONS": {"max_length": 128}},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
SESSION_COOKIE_AGE = envint("LINGJING_SESSION_AGE", 14 * 24 * 3600)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# Sessions: db (default) or cache_db (reads from Redis, writes through to the database) — docs/deploy.md
from lingjing.core.scaleout import session_engine  # noqa: E402

SESSION_ENGINE = session_engine(envstr("LINGJING_SESSION_ENGINE", "db"), redis_url=REDIS_URL)

# --- i18n -------------------------------------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_COOKIE_NAME = "lj_lang"
USE_I18N = True
TIME_ZONE = "Asia/Shanghai"
USE_TZ = True

# --- files ------------------------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
MEDIA_URL = "/media/"
MEDIA_ROOT = DATA_DIR / "media"
EXPORTS_DIR = DATA_DIR / "exports"
OUTBOX_DIR = DATA_DIR / "outbox"
AUDIT_CHECKPOINT_DIR = DATA_DIR / "audit"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Media and exports on S3-compatible object storage when LINGJING_S3_BUCKET is set (docs/deploy.md); the
# "exports" storage holds rights-request packages.
from lingjing.core.scaleout import file_storages  # noqa: E402

STORAGES.update(
    file_storages(
        media_root=MEDIA_ROOT,
        exports_dir=EXPORTS_DIR,
        bucket=envstr("LINGJING_S3_BUCKET", ""),
        exports_bucket=envstr("LINGJING_S3_EXPORTS_BUCKET", ""),
        endpoint_url=envstr("LINGJING_S3_ENDPOINT_URL", ""),
        access_key=envstr("LINGJING_S3_ACCESS_KEY_ID", ""),
        secret_key=envstr("LINGJING_S3_SECRET_ACCESS_KEY", ""),
        region=envstr("LINGJING_S3_REGION", ""),
        addressing_style=envstr("LINGJING_S3_ADDRESSING_STYLE", ""),
        url_expire=envint("LINGJING_S3_URL_EXPIRE", 300, minimum=10, maximum=7 * 24 * 3600),
    )
)
# Anonymous GETs of public pages (home, works, search, the public feed API) may be kept by browsers and shared
# caches this many seconds; 0 turns it off. Signed-in and privacy pages are never stored (core/cachecontrol.py).
LINGJING_PUBLIC_CACHE_SECONDS = envint("LINGJING_PUBLIC_CACHE_SECONDS", 60, minimum=0, maximum=3600)
# WhiteNoise serves the collected files; in development (DEBUG) it also serves straight from the apps'
# static folders and picks up edits without a restart.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
# Production collects hashed names only (templates use {% static %}) and skips compressing source maps: with
# brotli installed every other text file gets .br and .gz copies, which costs CPU once per deploy.
WHITENOISE_KEEP_ONLY_HASHED_FILES = PRODUCTION
from whitenoise.compress import Compressor as _Compressor  # noqa: E402

WHITENOISE_SKIP_COMPRESS_EXTENSIONS = [*_Compressor.SKIP_COMPRESS_EXTENSIONS, "map"]
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns about a missing root on every start
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 12 * 1024 * 1024
# The whole body, files included (Django has no such ceiling): four 5 MiB screenshots and the form fit; larger
# answers 413 before anything is read (core/middleware.py RequestSizeMiddleware).
LINGJING_MAX_REQUEST_BYTES = envint("LINGJING_MAX_REQUEST_BYTES", 24 * 1024 * 1024, minimum=1024 * 1024,
                                    maximum=1024 * 1024 * 1024)

# --- security headers -------------------------------------------------------------------------------------
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:", "blob:"],
    "media-src": [CSP.SELF, "blob:"],
    "connect-src": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
    "base-uri": [CSP.SELF],
    "object-src": [CSP.NONE],
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CSRF_FAILURE_VIEW = "lingjing.core.views.csrf_failure"
if PRODUCTION:
    SECURE_SSL_REDIRECT = envbool("LINGJING_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = envint("LINGJING_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    LANGUAGE_COOKIE_SECURE = True

# --- email and SMS ----------------------------------------------------------------------------------------
MAILERS = {"default": {"BACKEND": envstr("LINGJING_EMAIL_BACKEND", "lingjing.core.outbox.ConsoleEmailBackend")}}
DEFAULT_FROM_EMAIL = envstr("LINGJING_FROM_EMAIL", "灵境 <noreply@lingjingai.cn>")
LINGJING_SMS_BACKEND = envstr("LINGJING_SMS_BACKEND", "console")
if LINGJING_SMS_BACKEND not in ("console", "aliyun", "tencent"):
    raise ImproperlyConfigured(f"LINGJING_SMS_BACKEND must be console, aliyun or tencent, not {LINGJING_SMS_BACKEND!r}")
# SMS provider (aliyun: AccessKey + sign name + template code; tencent: SecretId/Key + SdkAppId + template id)
LINGJING_SMS_ACCESS_KEY_ID = envstr("LINGJING_SMS_ACCESS_KEY_ID", "")
LINGJING_SMS_ACCESS_KEY_SECRET = envstr("LINGJING_SMS_ACCESS_KEY_SECRET", "")
LINGJING_SMS_SIGN_NAME = envstr("LINGJING_SMS_SIGN_NAME", "灵境")
LINGJING_SMS_TEMPLATE = envstr("LINGJING_SMS_TEMPLATE", "")
# A generic service-notice template with one parameter (the text): notices, policy changes, security notices
LINGJING_SMS_NOTICE_TEMPLATE = envstr("LINGJING_SMS_NOTICE_TEMPLATE", "")
LINGJING_SMS_SDK_APP_ID = envstr("LINGJING_SMS_SDK_APP_ID", "")
LINGJING_SMS_REGION = envstr("LINGJING_SMS_REGION", "ap-guangzhou")
LINGJING_SMS_ENDPOINT = envstr("LINGJING_SMS_ENDPOINT", "")  # host[:port]; empty: the provider's public endpoint
# One-time codes and the SMS pumping defence (see docs/subsystems/accounts.md)
LINGJING_SMS_CODE_TTL = envint("LINGJING_SMS_CODE_TTL", 300, minimum=60)
LINGJING_SMS_MAX_ATTEMPTS = envint("LINGJING_SMS_MAX_ATTEMPTS", 5, minimum=1)
LINGJING_SMS_COOLDOWN = envint("LINGJING_SMS_COOLDOWN", 60, minimum=1)
LINGJING_SMS_PER_NUMBER_HOUR = envint("LINGJING_SMS_PER_NUMBER_HOUR", 5, minimum=1)
LINGJING_SMS_PER_NUMBER_DAY = envint("LINGJING_SMS_PER_NUMBER_DAY", 10, minimum=1)
LINGJING_SMS_PER_IP_HOUR = envint("LINGJING_SMS_PER_IP_HOUR", 20, minimum=1)
LINGJING_SMS_PER_IP_DAY = envint("LINGJING_SMS_PER_IP_DAY", 60, minimum=1)
LINGJING_SMS_PREFIX_DIGITS = envint("LINGJING_SMS_PREFIX_DIGITS", 7, minimum=3, maximum=11)
LINGJING_SMS_PER_PREFIX_DAY = envint("LINGJING_SMS_PER_PREFIX_DAY", 200, minimum=1)
LINGJING_SMS_GLOBAL_HOUR = envint("LINGJING_SMS_GLOBAL_HOUR", 2000, minimum=1)
# Sign-in failures: per account and per address, locked with doubling back-off
LINGJING_LOGIN_FAILURES_BEFORE_LOCK = envint("LINGJING_LOGIN_FAILURES_BEFORE_LOCK", 5, minimum=1)
LINGJING_LOGIN_LOCK_SECONDS = envint("LINGJING_LOGIN_LOCK_SECONDS", 60, minimum=1)
LINGJING_LOGIN_IP_FAILURES_BEFORE_LOCK = envint("LINGJING_LOGIN_IP_FAILURES_BEFORE_LOCK", 30, minimum=1)
LINGJING_STEP_UP_MINUTES = envint("LINGJING_STEP_UP_MINUTES", 10, minimum=1)
LINGJING_GUARDIAN_EXPIRY_DAYS = envint("LINGJING_GUARDIAN_EXPIRY_DAYS", 7, minimum=1)
LINGJING_PROXY_COUNT = envint("LINGJING_PROXY_COUNT", 0, minimum=0)  # trusted reverse proxies (X-Forwarded-For)

# --- privacy ----------------------------------------------------------------------------------------------
LINGJING_DELETION_GRACE_DAYS = envint("LINGJING_DELETION_GRACE_DAYS", 15, minimum=0)
LINGJING_RESIDENCY = envstr("LINGJING_RESIDENCY", "CN").upper()
if len(LINGJING_RESIDENCY) != 2 or not LINGJING_RESIDENCY.isalpha():
    raise ImproperlyConfigured(f"LINGJING_RESIDENCY must be an ISO 3166-1 alpha-2 code, not {LINGJING_RESIDENCY!r}")
# Cross-border volume thresholds per calendar year (促进和规范数据跨境流动规定 art. 5, 7, 8; docs/subsystems/sharing.md)
LINGJING_CROSSBORDER_PEOPLE_LIMIT = envint("LINGJING_CROSSBORDER_PEOPLE_LIMIT", 100_000, minimum=1)
LINGJING_CROSSBORDER_ASSESSMENT_LIMIT = envint("LINGJING_CROSSBORDER_ASSESSMENT_LIMIT", 1_000_000, minimum=1)
LINGJING_CROSSBORDER_SENSITIVE_LIMIT = envint("LINGJING_CROSSBORDER_SENSITIVE_LIMIT", 10_000, minimum=1)
# Children: how long a second staff member's approval to open a child's data lasts (hours, at most)
LINGJING_CHILD_ACCESS_MAX_HOURS = envint("LINGJING_CHILD_ACCESS_MAX_HOURS", 72, minimum=1)
LINGJING_CONTROLLER = {
    "name": "灵境万维（杭州）智能科技有限公司",
    "name_en": "Lingjing Wanwei (Hangzhou) Intelligent Technology Co., Ltd.",
    "email": envstr("LINGJING_CONTACT_EMAIL", "support@lingjingai.cn"),
    "site": "https://animeworkbench.lingjingai.cn/platform/creation",
}
LINGJING_AUDIT_CHECKPOINT_EVERY = envint("LINGJING_AUDIT_CHECKPOINT_EVERY", 1000, minimum=1)
# Rows of one model per erasure transaction. The engine deletes by subject in the database: 5,000 rows take about
# as long as 500 did when their keys went through Python (docs/subsystems/erasure-and-export.md).
LINGJING_ERASURE_CHUNK = envint("LINGJING_ERASURE_CHUNK", 5000, minimum=1)
# Time budget of one erasure chunk's statements: chunks start at LINGJING_ERASURE_CHUNK rows, double while they
# take at most half of it, shrink when one overruns it (0: every chunk exactly LINGJING_ERASURE_CHUNK rows).
LINGJING_ERASURE_CHUNK_MS = envint("LINGJING_ERASURE_CHUNK_MS", 250, minimum=0, maximum=60_000)
# Rights requests (docs/subsystems/rights-requests.md): answer within 15 working days (L1; the policy's 30 days is
# the outer bound), copy links live 7 days, transfers beyond the yearly free count cost a fee (NDR art. 25).
LINGJING_RIGHTS_DUE_WORKING_DAYS = envint("LINGJING_RIGHTS_DUE_WORKING_DAYS", 15, minimum=1, maximum=15)
LINGJING_COPY_LINK_DAYS = envint("LINGJING_COPY_LINK_DAYS", 7, minimum=1, maximum=30)
LINGJING_TRANSFER_FREE_PER_YEAR = envint("LINGJING_TRANSFER_FREE_PER_YEAR", 3, minimum=1)
LINGJING_TRANSFER_FEE_FEN = envint("LINGJING_TRANSFER_FEE_FEN", 2000, minimum=0)  # cost fee in fen (20.00 元)
LINGJING_TRANSFER_CA_BUNDLE = envstr("LINGJING_TRANSFER_CA_BUNDLE", "")  # extra trusted CAs (PEM) for transfers
LINGJING_TRANSFER_TIMEOUT = envint("LINGJING_TRANSFER_TIMEOUT", 60, minimum=1)

# --- notifications and customer service (docs/subsystems/notifications.md, support.md) ---------------------
LINGJING_NOTIFY_PER_USER_HOUR = envint("LINGJING_NOTIFY_PER_USER_HOUR", 20, minimum=1)  # outward messages a person
LINGJING_NOTIFY_MAX_ATTEMPTS = envint("LINGJING_NOTIFY_MAX_ATTEMPTS", 5, minimum=1)
LINGJING_NOTIFY_RETRY_BASE = envint("LINGJING_NOTIFY_RETRY_BASE", 60, minimum=1)  # seconds; ×4 per attempt
LINGJING_PUSH_WEBHOOK_URL = envstr("LINGJING_PUSH_WEBHOOK_URL", "")  # empty: no push channel
LINGJING_PUSH_WEBHOOK_SECRET = envstr("LINGJING_PUSH_WEBHOOK_SECRET", "")
LINGJING_PUSH_RECIPIENT = envstr("LINGJING_PUSH_RECIPIENT", "push-gateway")  # sharing registry slug, or self-hosted
if LINGJING_PUSH_WEBHOOK_URL and not LINGJING_PUSH_WEBHOOK_URL.startswith(("https://", "http://")):
    raise ImproperlyConfigured("LINGJING_PUSH_WEBHOOK_URL must be an http(s) URL")
if LINGJING_PUSH_WEBHOOK_URL and len(LINGJING_PUSH_WEBHOOK_SECRET) < 16:
    raise ImproperlyConfigured("LINGJING_PUSH_WEBHOOK_SECRET must be at least 16 characters when push is on")
LINGJING_SUPPORT_DUE_WORKING_DAYS = envint("LINGJING_SUPPORT_DUE_WORKING_DAYS", 15, minimum=1, maximum=15)

# --- security operations (docs/subsystems/security-ops.md, retention.md, backups.md) ----------------------
# Sign-in risk: points over the last LINGJING_RISK_WINDOW_SECONDS; step-up verification, then block.
LINGJING_RISK_STEP_UP_SCORE = envint("LINGJING_RISK_STEP_UP_SCORE", 50, minimum=1)
LINGJING_RISK_BLOCK_SCORE = envint("LINGJING_RISK_BLOCK_SCORE", 100, minimum=2)
if LINGJING_RISK_BLOCK_SCORE <= LINGJING_RISK_STEP_UP_SCORE:
    raise ImproperlyConfigured("LINGJING_RISK_BLOCK_SCORE must be above LINGJING_RISK_STEP_UP_SCORE")
LINGJING_RISK_WINDOW_SECONDS = envint("LINGJING_RISK_WINDOW_SECONDS", 3600, minimum=60)
# Request limits (every page and API call; generous: many people can share one address behind a carrier NAT)
LINGJING_RATE_LIMIT_ENABLED = envbool("LINGJING_RATE_LIMIT_ENABLED", True)
LINGJING_RATE_LIMIT_IP_PER_MINUTE = envint("LINGJING_RATE_LIMIT_IP_PER_MINUTE", 6000, minimum=1)
LINGJING_RATE_LIMIT_USER_PER_MINUTE = envint("LINGJING_RATE_LIMIT_USER_PER_MINUTE", 600, minimum=1)
LINGJING_RATE_LIMIT_USER_PER_10S = envint("LINGJING_RATE_LIMIT_USER_PER_10S", 150, minimum=1)  # beyond: impossible
LINGJING_RATE_LIMIT_CONTENT_IP_PER_HOUR = envint("LINGJING_RATE_LIMIT_CONTENT_IP_PER_HOUR", 30000, minimum=1)
LINGJING_RATE_LIMIT_CONTENT_USER_PER_HOUR = envint("LINGJING_RATE_LIMIT_CONTENT_USER_PER_HOUR", 3000, minimum=1)
LINGJING_RATE_LIMIT_CONTENT_PATHS = envlist(
    "LINGJING_RATE_LIMIT_CONTENT_PATHS", ["/api/v1/works", "/api/v1/search", "/search", "/works/"]
)
LINGJING_RATE_LIMIT_EXEMPT = envlist("LINGJING_RATE_LIMIT_EXEMPT", ["/healthz", "/api/v1/healthz", "/static/"])
LINGJING_RATE_LIMIT_BATCH_DIVISOR = envint("LINGJING_RATE_LIMIT_BATCH_DIVISOR", 20, minimum=1)
# Staff: the console needs TOTP and a training acknowledgement (off by default only in the test environment,
# where other apps' tests open the console with force_login; secops tests switch it on)
LINGJING_CONSOLE_GATE = envbool("LINGJING_CONSOLE_GATE", LINGJING_ENV != "test")
LINGJING_CONSOLE_PATHS = envlist(
    "LINGJING_CONSOLE_PATHS",
    ["/console/", "/secops/", "/children/staff/", "/privacy/staff/", "/privacy/decisions/reviews/",
     "/privacy/sharing/legal/", "/privacy/requests/staff/", "/support/agent/", "/moderation/"],
)
LINGJING_STAFF_SESSION_HOURS = envint("LINGJING_STAFF_SESSION_HOURS", 12, minimum=1)
LINGJING_STAFF_IDLE_MINUTES = envint("LINGJING_STAFF_IDLE_MINUTES", 30, minimum=1)
LINGJING_STAFF_TRAINING_DAYS = envint("LINGJING_STAFF_TRAINING_DAYS", 365, minimum=1)
LINGJING_STAFF_ACCESS_MINUTES = envint("LINGJING_STAFF_ACCESS_MINUTES", 30, minimum=1, maximum=480)
# Incidents (国家网络安全事件报告管理办法; PIPL art. 57)
LINGJING_INCIDENT_REPORT_HOURS = envint("LINGJING_INCIDENT_REPORT_HOURS", 4, minimum=1)
LINGJING_INCIDENT_SUMMARY_DAYS = envint("LINGJING_INCIDENT_SUMMARY_DAYS", 30, minimum=1)
LINGJING_INCIDENT_INDIVIDUAL_MAX = envint("LINGJING_INCIDENT_INDIVIDUAL_MAX", 1_000_000, minimum=1)
LINGJING_SECURITY_CONTACT = envstr("LINGJING_SECURITY_CONTACT", "安全负责人 security@lingjingai.cn")
# Retention purges and backups
LINGJING_RETENTION_CHUNK = envint("LINGJING_RETENTION_CHUNK", 1000, minimum=1)
LINGJING_RETENTION_EXTRA_PURGES = envlist("LINGJING_RETENTION_EXTRA_PURGES", [])  # dotted callables (now, dry_run)
LINGJING_EXPORT_TTL_DAYS = envint("LINGJING_EXPORT_TTL_DAYS", 7, minimum=1)
LINGJING_RETENTION_EXPORT_DIRS = envlist("LINGJING_RETENTION_EXPORT_DIRS", [])  # under EXPORTS_DIR, purged after TTL
LINGJING_KEY_ESCROW_DIR = envstr("LINGJING_KEY_ESCROW_DIR", "")  # empty: $LINGJING_DATA_DIR/key-escrow

# --- studio -----------------------------------------------------------------------------------------------
# Provider settings of this deployment, one JSON object keyed "llm", "image.comfyui", "image.openai",
# "image.sdwebui", "speech.openai" (docs/subsystems/studio.md). Keys in it are never logged or exported.
LINGJING_STUDIO_PROVIDERS: dict[str, dict[str, Any]] = {}
if envstr("LINGJING_STUDIO_PROVIDERS", ""):
    import json as _json

    try:
        LINGJING_STUDIO_PROVIDERS = _json.loads(envstr("LINGJING_STUDIO_PROVIDERS", ""))
    except ValueError:
        raise ImproperlyConfigured("LINGJING_STUDIO_PROVIDERS must be a JSON object") from None
    if not isinstance(LINGJING_STUDIO_PROVIDERS, dict) or not all(
        isinstance(v, dict) for v in LINGJING_STUDIO_PROVIDERS.values()
    ):
        raise ImproperlyConfigured("LINGJING_STUDIO_PROVIDERS must map provider names to JSON objects")
# A running studio job whose heartbeat is older than this is taken over by the next worker.
LINGJING_STUDIO_STALE_SECONDS = envint("LINGJING_STUDIO_STALE_SECONDS", 120, minimum=10)
# Video/image size override "WIDTHxHEIGHT" (previews, tests); empty: the work's preset (1080×1920 / 1920×1080).
_studio_size = envstr("LINGJING_STUDIO_VIDEO_SIZE", "")
LINGJING_STUDIO_VIDEO_SIZE: tuple[int, int] | None = None
if _studio_size:
    try:
        _w, _h = (int(p) for p in _studio_size.lower().split("x"))
    except ValueError:
        raise ImproperlyConfigured(f"LINGJING_STUDIO_VIDEO_SIZE must be WIDTHxHEIGHT, not {_studio_size!r}") from None
    if not (64 <= _w <= 3840 and 64 <= _h <= 3840):
        raise ImproperlyConfigured("LINGJING_STUDIO_VIDEO_SIZE sides must be between 64 and 3840")
    LINGJING_STUDIO_VIDEO_SIZE = (_w, _h)

# --- logging ----------------------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": envstr("LINGJING_LOG_LEVEL", "INFO")},
    "loggers": {
        # Django's default handlers (a plain console copy in DEBUG, mail_admins) would print every django.* line
        # twice; everything goes through the root handler instead.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.db.backends": {"level": "WARNING"},
    },
}

SILENCED_SYSTEM_CHECKS: list[str] = []
if os.environ.get("LINGJING_ENV") == "test":
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *PASSWORD_HASHERS]
