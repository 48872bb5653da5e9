"""Django settings for Cowrite, read from the environment.

The same settings serve both ways to run (docs/ARCHITECTURE.md):

- embedded default: nothing set. SQLite under ``DATA_DIR``, the in-memory channel
  layer, background jobs run in-process.
- distributed: ``DATABASE_URL`` (PostgreSQL, psycopg 3 with its pool) and ``REDIS_URL``
  (channels-redis layer, Celery broker and result backend).

Environment variables: ``DEBUG`` (default on, for a laptop), ``SECRET_KEY`` (required when
DEBUG is off; generated and kept under ``DATA_DIR`` otherwise), ``ALLOWED_HOSTS``
(comma-separated), ``CSRF_TRUSTED_ORIGINS``, ``DATABASE_URL``, ``REDIS_URL``,
``DATA_DIR``, ``MODEL_DIR``; accounts and HTTPS: ``COWRITE_SIGNUP``, ``EMAIL_*``,
``AXES_*``, ``SECURE_*``, ``SESSION_COOKIE_SECURE``, ``CSRF_COOKIE_SECURE`` (README,
docs/SECURITY.md).
"""

import json
import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONCE
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DATA_DIR = Path(os.environ.get("DATA_DIR") or BASE_DIR / "data")
MODEL_DIR = Path(os.environ.get("MODEL_DIR") or DATA_DIR / "models")
DATA_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", True)


def _secret_key() -> str:
    key = os.environ.get("SECRET_KEY", "")
    if key:
        return key
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    # Local use: generate one key and keep it, so sessions survive restarts.
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "django_htmx",
    "axes",  # log-in throttle (AXES_* below)
    "scripts_app",
    "generation",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Needs request.user; runs before anything reads the body (CSRF's process_view does).
    "cowrite.security.AnonymousBodyCapMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Names the asking page for the story room's signals (cowrite/origin.py).
    "cowrite.origin.RequestOriginMiddleware",
    # Last: turns a lockout flagged by the axes backend into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "cowrite.urls"
ASGI_APPLICATION = "cowrite.asgi.application"
WSGI_APPLICATION = "cowrite.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
                "scripts_app.views_accounts.accounts_context",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL", "")
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL or f"sqlite:///{DATA_DIR / 'cowrite.sqlite3'}", conn_max_age=0
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # psycopg 3's pool: under ASGI every request runs in a thread of its own, so
    # persistent connections would pile up; a pool shares a few.
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": int(os.environ.get("DB_POOL_MAX", "20")),
        "timeout": 10,
    }
    # An explicit test database name (channels issue #2185 with live servers).
    DATABASES["default"]["TEST"] = {"NAME": "test_cowrite"}
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].update(
        {
            # Keep connections: reopening SQLite (and re-running the PRAGMAs) on every
            # websocket message costs ~3 ms, which the co-editing hot path cannot afford.
            "CONN_MAX_AGE": None,
            "OPTIONS": {
                # WAL and a busy timeout let the web process and background jobs share
                # the file; synchronous=NORMAL skips the fsync per commit (WAL keeps the
                # database consistent; a power cut can lose the last commits).
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
            # A file (servers started by tests open it too), one per test run, so two
            # runs at once (two developers' shells, helpers) do not clobber each other.
            "TEST": {"NAME": str(DATA_DIR / f"test_cowrite_{os.getpid()}.sqlite3")},
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Channels and Celery ---------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:

    def _redis_db(url: str) -> str:
        from urllib.parse import urlparse

        return urlparse(url).path.strip("/") or "0"

    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "capacity": 1000, "expiry": 60},
        },
        # Live pages (co-editing relays, draft streams, cards): Redis pub/sub. A group
        # message is published once and each server process receives it once and hands it
        # to its own sockets (the core layer stores and pops one message per socket, four
        # round trips each). No storage: a page that misses a delta sees the gap and asks
        # for a catch-up; an editor that misses a relay is repaired (consumers.SceneRepairs).
        "rooms": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            # Pub/sub ignores Redis database numbers: the prefix carries it, so two
            # installations (or a test run and a benchmark) on one Redis stay apart.
            "CONFIG": {"hosts": [REDIS_URL], "prefix": f"cowrite-rooms-{_redis_db(REDIS_URL)}"},
        },
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    CELERY_TASK_ALWAYS_EAGER = False
else:
    # Capacity: group_send silently drops messages for a member whose queue is full (the
    # default is 100); a burst of typing by many editors must not hit that.
    CHANNEL_LAYERS = {
        alias: {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            "CONFIG": {"capacity": 1000, "expiry": 60},
        }
        for alias in ("default", "rooms")
    }
    # Embedded mode: no broker; tasks run in the calling process.
    CELERY_BROKER_URL = "memory://"
    CELERY_RESULT_BACKEND = "cache+memory://"
    CELERY_TASK_ALWAYS_EAGER = True
# --- Co-editing relay repair (docs/ARCHITECTURE.md, "Live co-editing") ----------------------
# Embedded: the rooms layer remembers which sockets' queues overflowed (group_send drops
# silently), so those clients are repaired. COWRITE_ROOMS_CAPACITY: its queue size per socket.
if not REDIS_URL:
    CHANNEL_LAYERS["rooms"]["BACKEND"] = "scripts_app.layers.DropTrackingInMemoryChannelLayer"
    CHANNEL_LAYERS["rooms"]["CONFIG"]["capacity"] = int(
        os.environ.get("COWRITE_ROOMS_CAPACITY", "1000")
    )
# Each server process checks its open editors of a scene against the database (one load per
# scene, a diff per socket): this long after the scene's last relay, at least this often
# while it is busy, and this often when nothing at all happened (a dead peer's last update).
COWRITE_DOC_REPAIR_QUIET_SECONDS = float(os.environ.get("COWRITE_DOC_REPAIR_QUIET_SECONDS", "0.75"))
COWRITE_DOC_REPAIR_BUSY_SECONDS = float(os.environ.get("COWRITE_DOC_REPAIR_BUSY_SECONDS", "5"))
COWRITE_DOC_REPAIR_IDLE_SECONDS = float(os.environ.get("COWRITE_DOC_REPAIR_IDLE_SECONDS", "30"))
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# Long model training gets its own queue (run a worker with `-Q training` on a GPU box).
CELERY_TASK_ROUTES = {"generation.tasks.train_version": {"queue": "training"}}
CELERY_BEAT_SCHEDULE = {
    "nightly-cleanup": {
        "task": "scripts_app.tasks.nightly_cleanup",
        "schedule": 24 * 60 * 60,
    },
    "compact-scene-docs": {
        "task": "scripts_app.tasks.compact_scene_docs",
        "schedule": 10,
    },
    "reap-stalled-drafts": {
        "task": "generation.tasks.reap_stalled_drafts",
        "schedule": 5,
    },
}

# --- Auth --------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# Who may create an account (scripts_app/views_accounts.py): "open" (anyone), "invite"
# (only someone holding an invitation link), "closed" (staff make accounts). Default:
# invite with DEBUG off, open with DEBUG on (a laptop).
COWRITE_SIGNUP = (
    (os.environ.get("COWRITE_SIGNUP") or ("open" if DEBUG else "invite")).strip().lower()
)
if COWRITE_SIGNUP not in {"open", "invite", "closed"}:
    raise ImproperlyConfigured("COWRITE_SIGNUP must be open, invite or closed.")
COWRITE_INVITATION_DAYS = int(os.environ.get("COWRITE_INVITATION_DAYS", "7"))
PASSWORD_RESET_TIMEOUT = 3 * 24 * 60 * 60  # a reset link works for 3 days

# Log-in throttle (django-axes, database handler: shared by every web process). After
# AXES_FAILURE_LIMIT failed log-ins for one username, or from one address, that username
# (or address) is locked for AXES_COOLOFF_TIME; each failed try meanwhile restarts it.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("AXES_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]  # each on its own
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "cowrite.security.lockout_response"
AXES_CLIENT_IP_CALLABLE = "cowrite.security.client_ip"
AXES_VERBOSE = False
# Trusted reverse proxies in front of the app (for the client address in X-Forwarded-For).
COWRITE_PROXY_COUNT = int(os.environ.get("COWRITE_PROXY_COUNT", "0"))

# --- Email (invitations, password reset) --------------------------------------------------
# SMTP when EMAIL_HOST is set, else printed to the console (embedded mode).
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND") or (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "587"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", not env_bool("EMAIL_USE_SSL", False))
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Cowrite <cowrite@localhost>")
SERVER_EMAIL = os.environ.get("SERVER_EMAIL", DEFAULT_FROM_EMAIL)

# --- HTTPS and browser protections (production values: docs/SECURITY.md) ------------------
# All off by default (a laptop on http://localhost); `manage.py check --deploy` lists what a
# public server must turn on.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", False)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)


def _proxy_ssl_header(value: str):
    """``X-Forwarded-Proto=https`` -> ("HTTP_X_FORWARDED_PROTO", "https"); "" -> None."""
    if not value.strip():
        return None
    name, _, expected = value.partition("=")
    if not expected:
        raise ImproperlyConfigured("SECURE_PROXY_SSL_HEADER looks like X-Forwarded-Proto=https")
    return ("HTTP_" + name.strip().upper().replace("-", "_"), expected.strip())


# Behind a TLS-terminating proxy that sets this header (and strips it from clients).
SECURE_PROXY_SSL_HEADER = _proxy_ssl_header(os.environ.get("SECURE_PROXY_SSL_HEADER", ""))
SESSION_COOKIE_HTTPONLY = True
# Content-Security-Policy (django-csp): scripts only from this site (no inline scripts or
# handlers: static/js/app.js does confirms and auto-submits; a template that needs an inline
# script uses the nonce, {{ request.csp_nonce }}). Inline styles stay allowed: htmx
# injects its indicator style and CodeMirror styles its editor at run time.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'", NONCE],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],  # 'self' covers ws:/wss: to this host
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# --- i18n, static ------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Serve static files straight from the app and static/ folders (and the npm build in
# static/dist) without a collectstatic step; `make run` still collects for speed.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# --- Limits (documented in README "Limits") ----------------------------------------------
COWRITE_SCENE_TEXT_MAX_CHARS = 200_000
COWRITE_HEADING_MAX_CHARS = 200
COWRITE_UPLOAD_MAX_BYTES = 10 * 1024 * 1024
COWRITE_BOOK_MAX_BYTES = COWRITE_UPLOAD_MAX_BYTES  # a book to adapt (adaptation.py)
# A visitor who is not logged in may send at most this much (log-in, sign-up, reset
# forms); larger bodies get 413 before they are read (cowrite/security.py).
COWRITE_ANON_BODY_MAX_BYTES = int(os.environ.get("COWRITE_ANON_BODY_MAX_BYTES", str(64 * 1024)))
# Scenes in one imported file: more is refused with a message and nothing is imported.
# 10,000 takes the longest scripts seen (a 6,840-scene, 5.3 MB file); files over 1 MiB
# import as a background job (imports.BACKGROUND_BYTES), in steps with progress.
COWRITE_IMPORT_MAX_SCENES = int(os.environ.get("COWRITE_IMPORT_MAX_SCENES", "10000"))
# One websocket frame of the live document (a first sync of a long scene can be large;
# Daphne is started with the same cap, see Makefile).
COWRITE_DOC_MESSAGE_MAX_BYTES = 16 * 1024 * 1024
# --- Co-editing socket input (scripts_app/yprotocol.py, SceneDocConsumer.receive) ---------
# An awareness (presence) frame: a state is a name, a colour and a cursor (~300 bytes).
COWRITE_DOC_AWARENESS_MAX_BYTES = 16 * 1024
# Frames up to this size are checked and applied on the event loop (milliseconds); bigger
# ones on a decode thread, so a big frame never stalls other sockets and pages.
COWRITE_DOC_INLINE_DECODE_BYTES = 64 * 1024
# --- end of co-editing socket input ---------------------------------------------------------
# The first model, trained on first start when none exists (tiny preset, CPU).
COWRITE_BOOTSTRAP_SECONDS = int(os.environ.get("COWRITE_BOOTSTRAP_SECONDS", "780"))
# Drafts (generated passages): limits, each with a clear message when hit.
COWRITE_DRAFT_RATE_LIMIT = 10  # requests per user per window
COWRITE_DRAFT_RATE_WINDOW_SECONDS = 60
# Queued + streaming passages per project (a chapter's drafts queue the rest as they end).
COWRITE_DRAFT_PROJECT_CONCURRENCY = int(os.environ.get("COWRITE_DRAFT_PROJECT_CONCURRENCY", "8"))
COWRITE_GENERATION_MAX_QUEUE = 64  # queued passages, all projects
COWRITE_DRAFT_MAX_NEW_TOKENS = 512
COWRITE_DRAFT_MAX_INSTRUCTION_CHARS = 2000
# --- API limits and generation capacity (hardening; README "Limits") -----------------------
# Per API token: requests per sliding window, and requests running at once. Counted in
# Redis with REDIS_URL (every web process shares them), in memory embedded (one process).
COWRITE_API_RATE_LIMIT = int(os.environ.get("COWRITE_API_RATE_LIMIT", "60"))
COWRITE_API_RATE_WINDOW_SECONDS = float(os.environ.get("COWRITE_API_RATE_WINDOW_SECONDS", "60"))
COWRITE_API_TOKEN_CONCURRENCY = int(os.environ.get("COWRITE_API_TOKEN_CONCURRENCY", "4"))
COWRITE_API_MAX_BODY_BYTES = 2 * 1024 * 1024  # a /v1/completions JSON body
# An API request no worker takes within this is answered 503 and cancelled.
COWRITE_API_FIRST_REPLY_SECONDS = float(os.environ.get("COWRITE_API_FIRST_REPLY_SECONDS", "30"))
# The queue limit above counts queued drafts and waiting API requests together.
COWRITE_GENERATION_MAX_QUEUE = int(
    os.environ.get("COWRITE_GENERATION_MAX_QUEUE", str(COWRITE_GENERATION_MAX_QUEUE))
)
# --- end of API limits --------------------------------------------------------------------
# Generation workers: device ("auto": CUDA if present), batch size, heartbeat.
COWRITE_GENERATION_DEVICE = os.environ.get("COWRITE_GENERATION_DEVICE", "auto")
# The backend that writes drafts (generation/core/backends): our engine on the active
# model version by default; or a Hugging Face folder / an OpenAI-compatible server, with
# their options (e.g. {"base_url": "http://gpu-box:8000/v1", "model": "llama"}).
COWRITE_GENERATION_BACKEND = os.environ.get(
    "COWRITE_GENERATION_BACKEND", "generation.core.backends.local.LocalBackend"
)
COWRITE_GENERATION_BACKEND_OPTIONS = json.loads(
    os.environ.get("COWRITE_GENERATION_BACKEND_OPTIONS", "{}")
)
COWRITE_GENERATION_MAX_BATCH = int(os.environ.get("COWRITE_GENERATION_MAX_BATCH", "16"))
COWRITE_GENERATION_FLUSH_SECONDS = 0.05  # token deltas are sent in batches this often
COWRITE_GENERATION_HEARTBEAT_SECONDS = 2.0
# No heartbeat this long: the draft failed (its worker died).
COWRITE_GENERATION_STALE_SECONDS = float(os.environ.get("COWRITE_GENERATION_STALE_SECONDS", "15"))
# Compaction of live documents: after this many quiet seconds, or this many updates.
COWRITE_DOC_COMPACT_QUIET_SECONDS = 5
COWRITE_DOC_COMPACT_MAX_PENDING = 500
DATA_UPLOAD_MAX_MEMORY_SIZE = 4 * 1024 * 1024

# --- The console (README: Console) ---------------------------------------------------------
# Quiet by default: warnings and errors, one line per phase of `make run`, the first model's
# training progress. COWRITE_VERBOSE=1 (`make run VERBOSE=1`) shows every INFO line, each
# background job's success and every request (`manage.py serve`'s access log). LOG_LEVEL
# sets the level either way; the background jobs' successes stay out unless verbose.
COWRITE_VERBOSE = os.environ.get("COWRITE_VERBOSE", "").strip().lower() not in (
    "",
    "0",
    "false",
    "no",
    "off",
)
LOG_LEVEL = os.environ.get("LOG_LEVEL") or ("INFO" if COWRITE_VERBOSE else "WARNING")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "quiet_jobs": {"()": "cowrite.embedded.QuietJobsFilter"},
        "require_debug_false": {"()": "django.utils.log.RequireDebugFalse"},
    },
    "formatters": {"console": {"format": "%(levelname)s %(name)s: %(message)s"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "console",
            "filters": [] if COWRITE_VERBOSE else ["quiet_jobs"],
        },
        "mail_admins": {
            "level": "ERROR",
            "filters": ["require_debug_false"],
            "class": "django.utils.log.AdminEmailHandler",
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django's own console handler (DEBUG only) printed each of its lines a second
        # time beside the root's; its errors still mail ADMINS as by default.
        "django": {"handlers": ["mail_admins"], "level": LOG_LEVEL},
        "daphne": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
    },
}

# --- Retraining on feedback (generation/retraining.py, generation/lifecycle.py) -----------
# The beat checks every 10 minutes; a retraining starts when at least MIN_FEEDBACK ratings/
# preferences arrived since the active version was made, at most once per INTERVAL.
CELERY_BEAT_SCHEDULE["maybe-retrain"] = {
    "task": "generation.tasks.maybe_retrain",
    "schedule": 10 * 60,
}
CELERY_TASK_ROUTES["generation.tasks.retrain_version"] = {"queue": "training"}
# A model record's health check may load a Hugging Face folder: on the GPU box's queue.
CELERY_TASK_ROUTES["generation.tasks.check_endpoint"] = {"queue": "training"}
CELERY_TASK_ROUTES["generation.tasks.lora_retrain"] = {"queue": "training"}
# A blind comparison's drafts are written where long jobs run (generation/comparisons.py).
CELERY_TASK_ROUTES["generation.tasks.comparison_prepare"] = {"queue": "training"}
# The model's reading of a script for the coverage page (generation/surprise.py).
CELERY_TASK_ROUTES["generation.tasks.read_script"] = {"queue": "training"}
# The gate can wait for the team's blind judgement: a retrained candidate that passes the
# automatic checks is compared blind with its parent and promoted only if the lower end
# of its win rate's 95 % interval is at least 50 % after this many judgements.
COWRITE_GATE_BLIND_AB = env_bool("COWRITE_GATE_BLIND_AB", False)
COWRITE_GATE_BLIND_VOTES = int(os.environ.get("COWRITE_GATE_BLIND_VOTES", "30"))
# A draft that copies this many words in a row from the training scripts or another
# project is flagged on its card (generation/draft_scores.py).
COWRITE_MEMORISATION_WORDS = 40
COWRITE_COMPARISON_MAX_NEW_TOKENS = 192  # a comparison's drafts: the panel's "medium"
# Processes that train the house model on the `training` queue's machine: 1 trains in the
# worker process; N > 1 launches `torchrun --nproc_per_node=N` (DDP; one per GPU).
COWRITE_TRAIN_PROCESSES = int(os.environ.get("COWRITE_TRAIN_PROCESSES", "1"))
COWRITE_RETRAIN_MIN_FEEDBACK = int(os.environ.get("COWRITE_RETRAIN_MIN_FEEDBACK", "20"))
COWRITE_RETRAIN_INTERVAL_SECONDS = int(os.environ.get("COWRITE_RETRAIN_INTERVAL_SECONDS", "21600"))
COWRITE_RETRAIN_BPB_TOLERANCE = 0.02  # gate: held-out bits/byte may be at most 2 % worse
COWRITE_RETRAIN_CONFIG = {}  # overrides of generation.retraining.RetrainConfig
COWRITE_PREFERENCE_MIN_MARGIN = 1.0  # mean-rating margin between chosen and rejected
COWRITE_HELDOUT_FRACTION = 0.2  # share of prompt groups / scenes held out from training
# --- Who retrains the shared model (generation/lifecycle.py) ------------------------------
# Retraining, promotion and rollback are staff actions (is_staff); project owners suggest.
# No retraining round starts less than MIN_INTERVAL after the previous one (staff or beat);
# a project may suggest again COOLDOWN after its previous suggestion (one open at a time).
COWRITE_RETRAIN_MIN_INTERVAL_SECONDS = int(
    os.environ.get("COWRITE_RETRAIN_MIN_INTERVAL_SECONDS", "3600")
)
COWRITE_RETRAIN_SUGGESTION_COOLDOWN_SECONDS = int(
    os.environ.get("COWRITE_RETRAIN_SUGGESTION_COOLDOWN_SECONDS", "3600")
)
# --- end: who retrains ----------------------------------------------------------------------
