"""Settings from the environment and a `.env` file, validated at start-up.

Variable names are the reference worker's (SUPABASE_URL, QUEUE_NAME, ...) plus
DATABASE_URL and the worker's own knobs. A bad or missing value becomes one
`ConfigError` line naming the variable and the fix; `cli.py` prints it without
a traceback.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from capo_worker.constants import DEFAULT_MAX_ATTEMPTS, DEFAULT_QUEUE_NAME
from capo_worker.dsn import dsn_passwords, dsn_problem, redact_dsn
from capo_worker.hostnames import is_host_name


class ConfigError(Exception):
    """A configuration mistake, worded for the operator: what is wrong and the fix."""


def _default_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def _default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("capo-worker", appauthor=False))


# What to tell the operator for each variable when its value is rejected.
_FIXES: dict[str, str] = {
    "database_url": "set DATABASE_URL to a postgresql:// connection string, or unset it "
    "to use the embedded PostgreSQL",
    "poll_interval_ms": "set POLL_INTERVAL_MS to a whole number of milliseconds >= 10 "
    "(default 1000)",
    "job_lease_seconds": "set JOB_LEASE_SECONDS to a whole number of seconds >= 5 (default 60)",
    "max_attempts": "set MAX_ATTEMPTS to a whole number >= 1 (default 3)",
    "worker_concurrency": "set WORKER_CONCURRENCY to a whole number from 1 to 64 (default 1)",
    "shutdown_grace_seconds": "set SHUTDOWN_GRACE_SECONDS to a number of seconds >= 0 (default 25)",
    "retry_backoff_seconds": "set RETRY_BACKOFF_SECONDS to a number of seconds >= 0 (default 10)",
    "stats_parallelism": "set STATS_PARALLELISM to a whole number from 1 to 10 (default 4)",
    "stats_function_timeout_seconds": "set STATS_FUNCTION_TIMEOUT_SECONDS to a number of "
    "seconds > 0 (default 300)",
    "log_level": "set LOG_LEVEL to one of DEBUG, INFO, WARNING, ERROR",
    "log_format": "set LOG_FORMAT to text or json",
    "capo_data_dir": "set CAPO_DATA_DIR to a writable directory",
    "queue_name": "set QUEUE_NAME to a non-empty name (default stats-update-queue)",
    "worker_id": "set WORKER_ID to a non-empty name, or unset it (default host-pid)",
    "db_pool_size": "set DB_POOL_SIZE to a whole number from 2 to 100 (default 10)",
    "migrate_on_start": "set MIGRATE_ON_START to true or false",
    "job_retention_days": "set JOB_RETENTION_DAYS to a number of days > 0 (default 7)",
    "port": "set PORT to a TCP port from 1 to 65535 (default 8000)",
    "max_request_body_bytes": "set MAX_REQUEST_BODY_BYTES to a size in bytes >= 1024",
    "allowed_hosts": "set ALLOWED_HOSTS to the host names clients use for this server, "
    "comma-separated (such as capo.example.com, or .example.com for it and its subdomains)",
    "public_url": "set PUBLIC_URL to the address people open this server at, such as "
    "https://capo-worker.example.com, or unset it",
    "forwarded_allow_ips": "set FORWARDED_ALLOW_IPS to the addresses or networks of the "
    "proxies in front of this server, comma-separated (such as 10.0.0.0/8), or * when only "
    "the proxy can reach it",
    "auth_failure_limit": "set AUTH_FAILURE_LIMIT to a whole number from 1 to 1000 (default 5)",
    "auth_failure_window_seconds": "set AUTH_FAILURE_WINDOW_SECONDS to a whole number of "
    "seconds from 1 to 86400 (default 60)",
    "use_bg_jobs_global": "set USE_BG_JOBS_GLOBAL to true or false",
    "use_bg_jobs_admin": "set USE_BG_JOBS_ADMIN to true or false",
    "use_bg_jobs_cron": "set USE_BG_JOBS_CRON to true or false",
    "use_bg_jobs_match": "set USE_BG_JOBS_MATCH to true or false",
    "cache_invalidation_timeout_seconds": "set CACHE_INVALIDATION_TIMEOUT_SECONDS to a "
    "number of seconds > 0 (default 10)",
    "cron_schedule": "set CRON_SCHEDULE to a cron expression (default '0 3 * * *') or off",
    "cron_timezone": "set CRON_TIMEZONE to an IANA time zone name (default UTC)",
    "next_public_app_url": "set NEXT_PUBLIC_APP_URL to the web app's address, such as "
    "https://capo.example.com, or unset it to skip cache invalidation",
    "cache_invalidation_url": "set CACHE_INVALIDATION_URL to the full endpoint address, such as "
    "https://capo.example.com/api/internal/cache/invalidate, or unset it",
}


class Settings(BaseSettings):
    """Every knob of the service. Field names are the environment names, lower-cased."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        populate_by_name=True,
    )

    # Database
    database_url: str | None = None
    capo_data_dir: Path = Field(default_factory=_default_data_dir)
    db_pool_size: int = Field(default=10, ge=2, le=100)
    # worker, run, demo and the commands that write data migrate at start when true
    migrate_on_start: bool = True

    # Reference worker's variables
    supabase_url: str | None = None
    supabase_service_role_key: str | None = None
    queue_name: str = Field(default=DEFAULT_QUEUE_NAME, min_length=1)
    worker_id: str = Field(default_factory=_default_worker_id, min_length=1)
    next_public_app_url: str | None = None
    internal_api_key: str | None = None
    node_env: str | None = None

    # Worker knobs
    poll_interval_ms: int = Field(default=1000, ge=10)
    job_lease_seconds: int = Field(default=60, ge=5)
    max_attempts: int = Field(default=DEFAULT_MAX_ATTEMPTS, ge=1)
    worker_concurrency: int = Field(default=1, ge=1, le=64)
    shutdown_grace_seconds: float = Field(default=25.0, ge=0)
    retry_backoff_seconds: float = Field(default=10.0, ge=0)
    stats_parallelism: int = Field(default=4, ge=1, le=10)
    stats_function_timeout_seconds: float = Field(default=300.0, gt=0)

    job_handler_modules_csv: str = Field(
        default="", validation_alias=AliasChoices("JOB_HANDLER_MODULES", "job_handler_modules_csv")
    )
    job_retention_days: float = Field(default=7.0, gt=0)

    # HTTP service
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    admin_api_key: str | None = None
    max_request_body_bytes: int = Field(default=65536, ge=1024)
    # Names (besides loopback ones and HOST) that requests may call this server by.
    allowed_hosts: str = ""
    # Where people open this server; Render sets RENDER_EXTERNAL_URL by itself.
    public_url: str | None = Field(
        default=None, validation_alias=AliasChoices("PUBLIC_URL", "RENDER_EXTERNAL_URL")
    )
    # Proxies whose X-Forwarded-For/-Proto uvicorn believes (its own default).
    forwarded_allow_ips: str = "127.0.0.1,::1"
    # Wrong keys per client address within the window before it must wait.
    auth_failure_limit: int = Field(default=5, ge=1, le=1000)
    auth_failure_window_seconds: int = Field(default=60, ge=1, le=86400)

    # Feature flags: background jobs per trigger (off = run the stats synchronously
    # in the enqueue request, the rollback path). Both spellings are accepted.
    use_bg_jobs_global: bool = Field(
        default=True, validation_alias=AliasChoices("USE_BG_JOBS_GLOBAL", "NEXT_PUBLIC_USE_BG_JOBS")
    )
    use_bg_jobs_admin: bool = Field(
        default=True,
        validation_alias=AliasChoices("USE_BG_JOBS_ADMIN", "NEXT_PUBLIC_USE_BG_JOBS_ADMIN"),
    )
    use_bg_jobs_cron: bool = Field(
        default=True,
        validation_alias=AliasChoices("USE_BG_JOBS_CRON", "NEXT_PUBLIC_USE_BG_JOBS_CRON"),
    )
    use_bg_jobs_match: bool = Field(
        default=True,
        validation_alias=AliasChoices("USE_BG_JOBS_MATCH", "NEXT_PUBLIC_USE_BG_JOBS_MATCH"),
    )

    # Cache invalidation and cron
    cache_invalidation_url: str | None = None
    cache_invalidation_timeout_seconds: float = Field(default=10.0, gt=0)
    cron_schedule: str = "0 3 * * *"
    cron_timezone: str = "UTC"

    # Logging
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower_format(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator(
        "database_url",
        "supabase_url",
        "supabase_service_role_key",
        "next_public_app_url",
        "internal_api_key",
        "node_env",
        "admin_api_key",
        "cache_invalidation_url",
        "public_url",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value.strip() if isinstance(value, str) else value

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("postgresql://", "postgres://")) and "=" not in value:
            raise ValueError("is not a PostgreSQL connection string")
        problem = dsn_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _supabase_needs_database_url(self) -> Settings:
        if self.supabase_url and not self.database_url:
            raise ConfigError(
                "Configuration error: SUPABASE_URL is set but DATABASE_URL is not: capo-worker "
                "talks to Postgres "
                "directly. In the Supabase dashboard open Connect, copy the Session pooler "
                "(session mode, port 5432) or direct connection string, and set DATABASE_URL "
                "to it; transaction mode (port 6543) cannot LISTEN for new jobs."
            )
        return self

    @field_validator("cron_schedule")
    @classmethod
    def _cron_expression(cls, value: str) -> str:
        from croniter import croniter

        value = value.strip()
        if value.lower() != "off" and not croniter.is_valid(value):
            raise ValueError("is not a cron expression such as '0 3 * * *', nor 'off'")
        return value

    @field_validator("allowed_hosts")
    @classmethod
    def _host_names(cls, value: str) -> str:
        names = [n.strip().lower().rstrip(".") for n in value.split(",") if n.strip()]
        for name in names:
            bare = name.removeprefix(".")
            if not bare or not is_host_name(bare):
                raise ValueError(f"{name!r} is not a host name or address")
        return ",".join(names)

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _networks(cls, value: str) -> str:
        import ipaddress

        entries = [e.strip() for e in value.split(",") if e.strip()]
        for entry in entries:
            if entry == "*":
                continue
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an address, a network or *") from None
        return ",".join(entries)

    @field_validator("next_public_app_url", "cache_invalidation_url", "public_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        scheme, _, rest = value.partition("://")
        if scheme.lower() not in ("http", "https") or not rest.strip("/"):
            raise ValueError("is not an http:// or https:// address")
        return value

    @field_validator("cron_timezone")
    @classmethod
    def _time_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("is not an IANA time zone such as UTC or Europe/London") from None
        return value

    @model_validator(mode="after")
    def _webhook_needs_key(self) -> Settings:
        if self.invalidation_url and not self.internal_api_key:
            which = (
                "CACHE_INVALIDATION_URL" if self.cache_invalidation_url else "NEXT_PUBLIC_APP_URL"
            )
            raise ConfigError(
                f"Configuration error: {which} is set but INTERNAL_API_KEY is not. Fix: set "
                "INTERNAL_API_KEY to the web app's internal API key (there is no default key), "
                f"or unset {which} to skip cache invalidation."
            )
        return self

    @property
    def invalidation_url(self) -> str | None:
        """Where to POST cache invalidations, or None to skip them."""
        if self.cache_invalidation_url:
            return self.cache_invalidation_url
        if self.next_public_app_url:
            return self.next_public_app_url.rstrip("/") + "/api/internal/cache/invalidate"
        return None

    @property
    def allowed_host_names(self) -> list[str]:
        """ALLOWED_HOSTS as a list; a leading dot stands for the name and its subdomains."""
        return [n for n in self.allowed_hosts.split(",") if n]

    @property
    def job_handler_modules(self) -> list[str]:
        return [m.strip() for m in self.job_handler_modules_csv.split(",") if m.strip()]

    def background_jobs_enabled(self, trigger: str) -> bool:
        """Master flag AND the trigger's flag, as the reference decides it."""
        per_trigger = {
            "admin": self.use_bg_jobs_admin,
            "cron": self.use_bg_jobs_cron,
            "post-match": self.use_bg_jobs_match,
        }
        return self.use_bg_jobs_global and per_trigger.get(trigger, True)

    def redacted(self) -> dict[str, str]:
        """Every setting as text, secrets hidden: for check-config and the admin page."""
        shown: dict[str, str] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if name == "job_handler_modules_csv":
                name = "job_handler_modules"
            if value is None or value == "":
                shown[name] = "(not set)"
            elif name in _SECRET_FIELDS:
                shown[name] = "(set, hidden)"
            elif name == "database_url":
                shown[name] = redact_dsn(str(value))
            else:
                shown[name] = str(value)
        return shown

    def secret_values(self) -> list[str]:
        """What logs must never show: the API keys and the database password."""
        values = [getattr(self, name) or "" for name in sorted(_SECRET_FIELDS)]
        if self.database_url:
            values += dsn_passwords(self.database_url)
        return [str(v) for v in values if v]

    @property
    def uses_embedded_database(self) -> bool:
        return self.database_url is None

    @property
    def embedded_pgdata(self) -> Path:
        return self.capo_data_dir / "postgres"


_SECRET_FIELDS = {"supabase_service_role_key", "internal_api_key", "admin_api_key"}


def _describe(error: dict[str, Any]) -> str:
    field = str(error["loc"][0]).lower() if error.get("loc") else ""
    name = field.upper() or "configuration"
    value = error.get("input")
    if isinstance(value, dict) or field in _SECRET_FIELDS:
        shown = ""
    elif field == "database_url" and isinstance(value, str):
        shown = f"={redact_dsn(value)!r}"
    else:
        shown = f"={value!r}"
    fix = _FIXES.get(field, f"check {name}")
    return f"Configuration error: {name}{shown} is invalid ({error['msg']}). Fix: {fix}."


def load_settings(env_file: str | Path | None = ".env", **overrides: Any) -> Settings:
    """Read and validate the settings; raise ConfigError with one readable line."""
    try:
        return Settings(_env_file=env_file, **overrides)  # type: ignore[call-arg]
    except ValidationError as exc:
        raise ConfigError(_describe(dict(exc.errors()[0]))) from None
