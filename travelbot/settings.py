"""travelbot settings, driven entirely by environment variables.

Every default boots the embedded development stack that `make run` starts on
loopback ports (see `devstack/`); production sets the same variables.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, str(default)))


def env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, str(default)))


def env_bool(name: str, default: bool) -> bool:
    return os.environ.get(name, "1" if default else "0").strip().lower() in {
        "1",
        "true",
        "yes",
        "on",
    }


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


# Off unless asked for: `make run` sets DEBUG=1 for development; the tests set a key.
DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        # One line, whichever process imports the settings (manage.py, uvicorn, celery).
        raise SystemExit(
            "travelbot: SECRET_KEY is not set: give it 50 or more random characters "
            "(or set DEBUG=1 for local development)"
        )
    SECRET_KEY = "dev-only-insecure-key-never-used-with-debug-off-0123456789abcdef"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list(
    "CSRF_TRUSTED_ORIGINS", "http://127.0.0.1:8000,http://localhost:8000"
)

# HTTPS outside development (Django's deployment checklist). Behind a TLS-terminating proxy,
# name the header it sets: SECURE_PROXY_SSL_HEADER=HTTP_X_FORWARDED_PROTO.
_proxy_header = env_str("SECURE_PROXY_SSL_HEADER", "")
SECURE_PROXY_SSL_HEADER = (_proxy_header, "https") if _proxy_header else None
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
# Probes and scrapers inside the private network speak plain HTTP to the container.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SESSION_COOKIE_HTTPONLY = True

# A strict Content-Security-Policy (django-csp): scripts, styles and everything else only
# from our own origin, no inline code, no framing. 'self' covers the chat's websocket to the
# same host (ws:/wss:, CSP Level 3).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "csp",
    "django.contrib.postgres",
    "channels",
    "django_htmx",
    "template_partials",
    "travelbot",
    "accounts",
    "chat",
    "profiles",
    "places",
    "inventory",
    "knowledge",
    "feedback",
    "exports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "travelbot.urls"
WSGI_APPLICATION = "travelbot.wsgi.application"
ASGI_APPLICATION = "travelbot.asgi.application"

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
                "accounts.context_processors.roles",
            ],
        },
    },
]

DATABASE_URL = env_str("DATABASE_URL", "postgres://postgres@127.0.0.1:55432/travelbot")
# Seconds a process keeps its database connection between requests or tasks. Off by default:
# under ASGI each request may run its queries on another thread, and persistent connections
# pile up until Postgres refuses more (Django's documentation: disable them under ASGI).
# The Celery worker, a synchronous process that closes connections between tasks, sets it.
DATABASE_CONN_MAX_AGE = env_int("DATABASE_CONN_MAX_AGE", 0)
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL, conn_max_age=DATABASE_CONN_MAX_AGE, conn_health_checks=True
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:56379/0")
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        # channels_redis waits for messages with a 5 s blocking pop; redis-py's default read
        # timeout is also 5 s, so a busy server's reply could lose that race and kill an idle
        # websocket consumer: reads get longer than the pop. redis-py's pool refuses a
        # 101st connection by default, and every websocket that opens joins a group on one,
        # so a burst of a few hundred travellers connecting at once needs a larger pool.
        "CONFIG": {
            "hosts": [
                {
                    "address": REDIS_URL,
                    "socket_timeout": 30,
                    "socket_connect_timeout": 5,
                    "max_connections": env_int("CHANNEL_LAYER_MAX_CONNECTIONS", 2000),
                }
            ]
        },
    }
}

# Shared by every process (throttles, short-lived figures): Redis, like the channel layer.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": env_str("CACHE_URL", REDIS_URL),
        "KEY_PREFIX": "travelbot",
        "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
    }
}

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", REDIS_URL)
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# Kafka: the wire contract lives in ../shared/contracts/streams.md.
KAFKA_BOOTSTRAP_SERVERS = env_list("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:59092")
# Prepended to every topic and consumer group, for clusters shared between environments.
KAFKA_TOPIC_PREFIX = env_str("KAFKA_TOPIC_PREFIX", "")
KAFKA_TOPIC_PARTITIONS = env_int("KAFKA_TOPIC_PARTITIONS", 3)
KAFKA_REPLICATION_FACTOR = env_int("KAFKA_REPLICATION_FACTOR", 1)
KAFKA_SESSION_TIMEOUT_MS = env_int("KAFKA_SESSION_TIMEOUT_MS", 6000)
# How every client connects: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL. With SSL, the CA
# file verifies the brokers (the system's CAs without one); the certificate and key files
# authenticate the client (mutual TLS). With SASL: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.
KAFKA_SECURITY_PROTOCOL = env_str("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")
KAFKA_SSL_CAFILE = env_str("KAFKA_SSL_CAFILE", "")
KAFKA_SSL_CERTFILE = env_str("KAFKA_SSL_CERTFILE", "")
KAFKA_SSL_KEYFILE = env_str("KAFKA_SSL_KEYFILE", "")
KAFKA_SASL_MECHANISM = env_str("KAFKA_SASL_MECHANISM", "")
KAFKA_SASL_USERNAME = env_str("KAFKA_SASL_USERNAME", "")
KAFKA_SASL_PASSWORD = env_str("KAFKA_SASL_PASSWORD", "")
# Which registered streams a Celery worker consumes: "all", "none" or a comma list.
WORKER_STREAMS = env_list("WORKER_STREAMS", "all")
STREAM_BATCH_MAX_RECORDS = env_int("STREAM_BATCH_MAX_RECORDS", 5000)
STREAM_BATCH_MAX_WAIT_MS = env_int("STREAM_BATCH_MAX_WAIT_MS", 100)
# How long a fetch may wait on the broker for data. kafka-python's 500 ms default shows up
# directly in freshness on brokers that hold fetches until the deadline.
STREAM_FETCH_MAX_WAIT_MS = env_int("STREAM_FETCH_MAX_WAIT_MS", 100)
# A batch whose share of poison records exceeds this (with at least
# STREAM_POISON_MIN_RECORDS records) stops the stream: the code, not the data, is broken.
STREAM_POISON_MAX_RATIO = float(env_str("STREAM_POISON_MAX_RATIO", "0.5"))
STREAM_POISON_MIN_RECORDS = env_int("STREAM_POISON_MIN_RECORDS", 20)
STREAM_STATS_RETENTION_MINUTES = env_int("STREAM_STATS_RETENTION_MINUTES", 60)
# Supervision: a runner beats at most this often (its last poll) ...
STREAM_HEARTBEAT_INTERVAL_S = env_float("STREAM_HEARTBEAT_INTERVAL_S", 2.0)
# ... and counts as dead (its stream "down") after this long without a beat.
STREAM_RUNNER_TIMEOUT_S = env_float("STREAM_RUNNER_TIMEOUT_S", 15.0)
# A stream with lag but no committed batch for this long is "stalled".
STREAM_STALL_AFTER_S = env_float("STREAM_STALL_AFTER_S", 60.0)
# A failed runner restarts after 1 s, 2 s, 4 s ... at most this long.
STREAM_RESTART_BACKOFF_S = env_float("STREAM_RESTART_BACKOFF_S", 1.0)
STREAM_RESTART_BACKOFF_MAX_S = env_float("STREAM_RESTART_BACKOFF_MAX_S", 60.0)
# How long the broker has to acknowledge a batch's dead letters before the batch fails.
STREAM_DLQ_TIMEOUT_S = env_float("STREAM_DLQ_TIMEOUT_S", 10.0)
# The largest request the dead-letter producer sends: a letter that does not fit with its
# headers goes out truncated and flagged. Kafka's default message.max.bytes is 1048588.
STREAM_DLQ_MAX_BYTES = env_int("STREAM_DLQ_MAX_BYTES", 1_000_000)
# How long the outbox relay waits for the broker to acknowledge a batch.
OUTBOX_PUBLISH_TIMEOUT_S = env_float("OUTBOX_PUBLISH_TIMEOUT_S", 10.0)
# Published outbox messages are deleted after this long (they carry what travellers said);
# dead letters (raw records, personal data included) after this long, read or not.
OUTBOX_RETENTION_HOURS = env_int("OUTBOX_RETENTION_HOURS", 24)
DEAD_LETTER_RETENTION_DAYS = env_int("DEAD_LETTER_RETENTION_DAYS", 30)
# Status pages never wait longer than this on the broker, and reuse its figures this long.
KAFKA_ADMIN_TIMEOUT_S = env_float("KAFKA_ADMIN_TIMEOUT_S", 2.0)
STREAM_LAG_CACHE_S = env_float("STREAM_LAG_CACHE_S", 2.0)

# Unified profile: phones written without a country code are read in this region (ISO 3166).
PHONE_DEFAULT_REGION = env_str("PHONE_DEFAULT_REGION", "GB")
# How long an emailed profile-link confirmation works.
PROFILE_LINK_MAX_AGE_S = env_int("PROFILE_LINK_MAX_AGE_S", 24 * 3600)
# The secret of the keyed hashes an erasure keeps of identifiers (profiles/privacy.py). Set it
# in production: derived from SECRET_KEY otherwise, so rotating SECRET_KEY would make every
# suppression stop matching and let erased people come back.
PRIVACY_HASH_KEY = env_str("PRIVACY_HASH_KEY", "") or SECRET_KEY

# Feedback analytics: KPI windows are by event time (occurred_at). An event older than the
# newest event time its stream has delivered, minus this much, no longer changes any window:
# it is counted as dropped instead (feedback/services.py has the rule).
FEEDBACK_ALLOWED_LATENESS = timedelta(seconds=env_int("FEEDBACK_ALLOWED_LATENESS_S", 48 * 3600))

# Feedback exports (exports/): where the staff page writes by default, and the S3 endpoint
# for s3:// destinations. An empty endpoint means AWS itself; an S3-compatible store (MinIO,
# Ceph...) is named by URL, e.g. http://127.0.0.1:9000. Without keys here, pyarrow uses the
# usual AWS credential chain.
EXPORTS_DIR = Path(env_str("EXPORTS_DIR", str(BASE_DIR / "var" / "exports")))
# An export covers changes up to this long ago, so ratings still being committed when it
# starts are not skipped by the watermark.
EXPORTS_SETTLE = timedelta(seconds=env_int("EXPORTS_SETTLE_S", 5))
# The only S3 places exports may be written to ("s3://bucket/prefix", comma-separated): a
# destination must be one of them or under one. None by default: no S3 export at all.
EXPORTS_S3_PREFIXES = env_list("EXPORTS_S3_PREFIXES", "")
EXPORTS_S3_ENDPOINT_URL = env_str("EXPORTS_S3_ENDPOINT_URL", "")
EXPORTS_S3_REGION = env_str("EXPORTS_S3_REGION", "us-east-1")
EXPORTS_S3_ACCESS_KEY_ID = env_str("EXPORTS_S3_ACCESS_KEY_ID", "")
EXPORTS_S3_SECRET_ACCESS_KEY = env_str("EXPORTS_S3_SECRET_ACCESS_KEY", "")

# Email: printed to the log in development, SMTP (EMAIL_HOST ...) otherwise.
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "travelbot <no-reply@travelbot.example>")

# Embeddings: the local model (no network) unless an OpenAI-compatible endpoint is named.
EMBEDDING_BASE_URL = env_str("EMBEDDING_BASE_URL", "")
EMBEDDING_API_KEY = env_str("EMBEDDING_API_KEY", "")
EMBEDDING_MODEL = env_str("EMBEDDING_MODEL", "text-embedding-3-small")
EMBEDDING_DIMENSIONS = env_int("EMBEDDING_DIMENSIONS", 1536)
EMBEDDING_THREADS = env_int("EMBEDDING_THREADS", 2)

OPENAI_BASE_URL = env_str("OPENAI_BASE_URL", "http://127.0.0.1:58080/v1")
OPENAI_API_KEY = env_str("OPENAI_API_KEY", "not-needed-for-a-local-server")
OPENAI_MODEL = env_str("OPENAI_MODEL", "travelbot-local")
# Seconds the model has to connect and to send each part of its answer.
OPENAI_TIMEOUT_S = env_float("OPENAI_TIMEOUT_S", 60.0)
OPENAI_MAX_TOKENS = env_int("OPENAI_MAX_TOKENS", 400)
# The service's health (the stream-health page, /api/streams/status, /metrics) also asks
# the model endpoint (GET /models), at most once per MODEL_HEALTH_CACHE_S. /readyz never
# does: a web process can serve pages without the model. The test suite turns it off.
LLM_READINESS_CHECK = env_bool("LLM_READINESS_CHECK", True)
MODEL_HEALTH_CACHE_S = env_float("MODEL_HEALTH_CACHE_S", 30.0)
# /readyz and the service's health checks reuse their answers this long.
READINESS_CACHE_S = env_float("READINESS_CACHE_S", 3.0)
# What `python -m devstack.localmodel` serves at OPENAI_BASE_URL, as `make run` does when no
# OPENAI_BASE_URL is given: qwen2.5-1.5b, qwen2.5-0.5b (faster, weaker) or smollm2-135m
# (fastest, for plumbing only). See devstack/localmodel.py.
LOCAL_MODEL = env_str("LOCAL_MODEL", "qwen2.5-1.5b")
# Offer the model function-calling tools (flight search, flight status, hotel search, my
# bookings, policy search) beside the context every turn gets. For models that use tools
# well; the small local default answers faster without their schemas in its prompt.
CHAT_TOOLS = env_bool("CHAT_TOOLS", False)
# A turn still "streaming" this long after it started belongs to a process that died.
CHAT_TURN_TIMEOUT = timedelta(seconds=env_int("CHAT_TURN_TIMEOUT_S", 300))

# Limits (travelbot/limits.py), held in Redis so every process counts together. Rates are
# token buckets: the count is also the largest burst.
CHAT_ASKS_PER_MINUTE = env_int("CHAT_ASKS_PER_MINUTE", 30)  # per traveller
CHAT_ASKS_PER_MINUTE_PER_ADDRESS = env_int("CHAT_ASKS_PER_MINUTE_PER_ADDRESS", 60)
CHAT_RATINGS_PER_MINUTE = env_int("CHAT_RATINGS_PER_MINUTE", 60)  # per traveller
CHAT_RATINGS_PER_MINUTE_PER_ADDRESS = env_int("CHAT_RATINGS_PER_MINUTE_PER_ADDRESS", 120)
# Turns one traveller may have running at once, over all their tabs and every process.
CHAT_CONCURRENT_TURNS = env_int("CHAT_CONCURRENT_TURNS", 2)
# Turns running at once in front of the model, for everyone; the next CHAT_MODEL_QUEUE wait
# their turn, at most CHAT_MODEL_QUEUE_WAIT_S; anyone past those is told "busy".
CHAT_MODEL_CONCURRENCY = env_int("CHAT_MODEL_CONCURRENCY", 32)
CHAT_MODEL_QUEUE = env_int("CHAT_MODEL_QUEUE", 128)
CHAT_MODEL_QUEUE_WAIT_S = env_float("CHAT_MODEL_QUEUE_WAIT_S", 20.0)
# The wait a "busy" refusal suggests (Retry-After).
CHAT_BUSY_RETRY_AFTER_S = env_int("CHAT_BUSY_RETRY_AFTER_S", 10)
# A running turn renews its places every third of this; a dead process's expire after it.
CHAT_LEASE_TTL_S = env_float("CHAT_LEASE_TTL_S", 30.0)
SIGNUPS_PER_HOUR_PER_ADDRESS = env_int("SIGNUPS_PER_HOUR_PER_ADDRESS", 20)
# Log-in attempts (the site's and /admin/'s), per address and per username tried.
LOGINS_PER_MINUTE_PER_ADDRESS = env_int("LOGINS_PER_MINUTE_PER_ADDRESS", 30)
LOGINS_PER_MINUTE_PER_USERNAME = env_int("LOGINS_PER_MINUTE_PER_USERNAME", 10)
# Profile-link confirmation emails a traveller may have sent.
EMAIL_LINKS_PER_HOUR = env_int("EMAIL_LINKS_PER_HOUR", 5)
# The header a trusted reverse proxy sets with the caller's address (its right-most entry
# is the one the proxy appended), e.g. HTTP_X_FORWARDED_FOR. Empty: REMOTE_ADDR. Set it
# only behind such a proxy: anyone can send the header.
TRUSTED_PROXY_HEADER = env_str("TRUSTED_PROXY_HEADER", "")

# The bearer token scrapers send to /metrics. Empty: open with DEBUG on, closed without it.
METRICS_BEARER_TOKEN = env_str("METRICS_BEARER_TOKEN", "")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "chat"
LOGOUT_REDIRECT_URL = "accounts:login"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
WHITENOISE_USE_FINDERS = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # kafka-python warns whenever its I/O loop is slower than 100 ms, which a busy 2-core
    # machine causes routinely; real client errors are logged at ERROR.
    "loggers": {"kafka": {"level": "WARNING"}, "kafka.net.selector": {"level": "ERROR"}},
}
