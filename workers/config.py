"""Settings read from the environment, in one place.

Every process (web app, worker, supervisor, tests) reads the same variables, so a deployment is
configured once. Values are read when `settings()` is called, not at import, so tests can change the
environment and get fresh settings.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from workers.net.client_address import Network, parse_networks


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SystemExit(f"{name} must be a whole number, got {raw!r}") from exc


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise SystemExit(f"{name} must be a number, got {raw!r}") from exc


def _flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SystemExit(f"{name} must be on or off, got {raw!r}")


def _seconds_list(name: str, default: tuple[float, ...]) -> tuple[float, ...]:
    """A comma-separated list of positive numbers of seconds, e.g. "10,60,300"."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        values = tuple(float(part) for part in raw.split(","))
    except ValueError as exc:
        raise SystemExit(f"{name} must be seconds separated by commas, e.g. 10,60,300; got {raw!r}") from exc
    if any(value <= 0 for value in values):
        raise SystemExit(f"{name} must list positive numbers of seconds, got {raw!r}")
    return values


def _networks(name: str) -> tuple[Network, ...]:
    """Comma-separated IP addresses or CIDR ranges; empty by default."""
    raw = os.environ.get(name, "")
    try:
        return parse_networks(raw)
    except ValueError as exc:
        example = "127.0.0.1,10.0.0.0/8"
        raise SystemExit(f"{name} must be IP addresses or CIDR ranges separated by commas, e.g. {example}; got {raw!r}") from exc


def _host_list(name: str) -> tuple[str, ...]:
    """Comma-separated host names, each optionally with a port; empty by default."""
    raw = os.environ.get(name, "")
    hosts = tuple(item.strip().lower() for item in raw.split(",") if item.strip())
    for host in hosts:
        if not re.fullmatch(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:\d{1,5})?", host):
            raise SystemExit(f"{name} must be host names (optionally host:port) separated by commas, "
                             f"e.g. fonts.googleapis.com,fonts.gstatic.com; got {host!r}")
    return hosts


def _choice(name: str, allowed: tuple[str, ...]) -> str:
    """One of `allowed`; the first is the default."""
    raw = os.environ.get(name, "").strip().lower() or allowed[0]
    if raw not in allowed:
        raise SystemExit(f"{name} must be one of {', '.join(allowed)}, got {raw!r}")
    return raw


# The app's page whose button confirms an email address (the emailed link leads there).
VERIFY_EMAIL_PATH = "/verify-email"
# /jobs/{id}?retry=1: the job page asks "Retry this build?" (where a failed build's notice leads).
RETRY_QUERY_PARAM = "retry"


@dataclass(frozen=True)
class Settings:
    port: int
    data_dir: Path
    database_url: str
    redis_url: str | None
    max_concurrent_builds: int
    build_timeout: int
    max_upload_mb: int
    build_memory_mb: int
    preview_domain: str
    preview_scheme: str
    preview_port: int
    public_url: str
    aging_seconds_per_point: float
    aging_max_boost: int
    max_memory_percent: float
    max_cpu_percent: float
    sandbox: str  # required | off: bubblewrap for build steps; off only on purpose
    cgroups: str  # required | off: memory/pids limits by cgroup; off: by a psutil watchdog
    # A build's writable folders in total, and so its largest file; its private /tmp (a tmpfs).
    build_disk_mb: int
    build_tmp_mb: int
    # The install's and the build's egress (workers/install_policy.py, workers/egress_proxy.py): the
    # registry (default: what the service's npm is configured for), more hosts each may reach, and
    # whether git and remote-tarball dependencies are allowed.
    npm_registry: str | None
    install_egress_allow: tuple[str, ...]
    build_egress_allow: tuple[str, ...]
    install_allow_remote_deps: bool
    build_pids_max: int
    deps_cache_mb: int
    # A published site's caps (workers/publishing.py): bytes, counted while copying, and entries.
    max_site_mb: int
    max_site_files: int
    # Deployments per website that keep their files besides the live one (workers/jobs/retention.py).
    keep_deployments: int
    # Webhooks and emails on completed/failed builds (workers/deliveries.py): the waits between
    # attempts; one more attempt than there are waits.
    webhook_retry_seconds: tuple[float, ...]
    # Webhooks may call loopback/private/link-local receivers (workers/egress.py); off: public only.
    webhook_allow_private: bool
    smtp_host: str | None  # unset: no emails
    smtp_port: int
    smtp_user: str | None
    smtp_password: str | None = field(repr=False)
    smtp_from: str
    smtp_starttls: bool
    # Reverse proxies whose X-Forwarded-For is believed (workers/client_address.py).
    trusted_proxies: tuple[Network, ...]
    # Sign-in and sign-up limits (workers/login_throttle.py): failures of one account from anywhere
    # before each further attempt waits (1, 2, 4 … s, at most the cap), failures from one client
    # across accounts, new accounts per client address and hour.
    login_account_failures: int
    login_backoff_max_seconds: float
    login_client_failures: int
    registrations_per_hour: int
    # Sign-in sessions (workers/sessions.py): their absolute lifetime and idle limit.
    session_days: float
    session_idle_hours: float
    # Per-user quotas, refused where the user acts (admins are exempt); 0 turns one off.
    quota_active_builds: int
    quota_uploads_per_hour: int
    quota_storage_mb: int
    quota_event_streams: int
    # Who may read /metrics without an admin token: addresses or CIDR ranges.
    metrics_allow: tuple[Network, ...]

    @property
    def jobs_dir(self) -> Path:
        return self.data_dir / "jobs"

    @property
    def sites_dir(self) -> Path:
        return self.data_dir / "sites"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    def preview_url(self, slug: str) -> str:
        """The site's own origin: a subdomain of the preview domain (behind a proxy, its port)."""
        default_port = {"http": 80, "https": 443}.get(self.preview_scheme)
        port = "" if self.preview_port == default_port else f":{self.preview_port}"
        return f"{self.preview_scheme}://{slug}.{self.preview_domain}{port}/"


def settings() -> Settings:
    """The settings for the current environment. Called on every request and progress write, so the
    parsing (and the data dir's realpath) is cached per distinct environment."""
    return _settings_for(os.getcwd(), *(os.environ.get(name) for name in _VARIABLES))


_UNPREFIXED = ("port", "database_url", "redis_url")
_VARIABLES = tuple(
    name.upper() if name in _UNPREFIXED else f"WEBBUILDER_{name.upper()}" for name in Settings.__dataclass_fields__
)


@functools.lru_cache(maxsize=32)
def _settings_for(_cwd: str, *_values: str | None) -> Settings:
    data_dir = Path(os.environ.get("WEBBUILDER_DATA_DIR", "data")).resolve()
    port = _int("PORT", 3000)
    public_url = os.environ.get("WEBBUILDER_PUBLIC_URL", "").strip() or f"http://localhost:{port}"
    database_url = os.environ.get("DATABASE_URL", "").strip() or f"sqlite:///{data_dir / 'webbuilder.db'}"
    return Settings(
        port=port,
        data_dir=data_dir,
        database_url=database_url,
        redis_url=os.environ.get("REDIS_URL", "").strip() or None,
        max_concurrent_builds=max(1, _int("WEBBUILDER_MAX_CONCURRENT_BUILDS", 2)),
        build_timeout=max(1, _int("WEBBUILDER_BUILD_TIMEOUT", 600)),
        max_upload_mb=max(1, _int("WEBBUILDER_MAX_UPLOAD_MB", 100)),
        build_memory_mb=max(64, _int("WEBBUILDER_BUILD_MEMORY_MB", 1536)),
        preview_domain=os.environ.get("WEBBUILDER_PREVIEW_DOMAIN", "").strip() or "localhost",
        preview_scheme=os.environ.get("WEBBUILDER_PREVIEW_SCHEME", "").strip() or "http",
        preview_port=_int("WEBBUILDER_PREVIEW_PORT", port),
        public_url=public_url,
        aging_seconds_per_point=max(1.0, _float("WEBBUILDER_AGING_SECONDS_PER_POINT", 60.0)),
        aging_max_boost=max(0, _int("WEBBUILDER_AGING_MAX_BOOST", 10)),
        max_memory_percent=_float("WEBBUILDER_MAX_MEMORY_PERCENT", 90.0),
        max_cpu_percent=_float("WEBBUILDER_MAX_CPU_PERCENT", 80.0),
        sandbox=_choice("WEBBUILDER_SANDBOX", ("required", "off")),
        cgroups=_choice("WEBBUILDER_CGROUPS", ("required", "off")),
        build_disk_mb=max(16, _int("WEBBUILDER_BUILD_DISK_MB", 2048)),
        build_tmp_mb=max(16, _int("WEBBUILDER_BUILD_TMP_MB", 512)),
        npm_registry=os.environ.get("WEBBUILDER_NPM_REGISTRY", "").strip() or None,
        install_egress_allow=_host_list("WEBBUILDER_INSTALL_EGRESS_ALLOW"),
        build_egress_allow=_host_list("WEBBUILDER_BUILD_EGRESS_ALLOW"),
        install_allow_remote_deps=_flag("WEBBUILDER_INSTALL_ALLOW_REMOTE_DEPS", False),
        build_pids_max=max(16, _int("WEBBUILDER_BUILD_PIDS_MAX", 512)),
        deps_cache_mb=max(1, _int("WEBBUILDER_DEPS_CACHE_MB", 2048)),
        max_site_mb=max(1, _int("WEBBUILDER_MAX_SITE_MB", 200)),
        max_site_files=max(1, _int("WEBBUILDER_MAX_SITE_FILES", 20000)),
        keep_deployments=max(1, _int("WEBBUILDER_KEEP_DEPLOYMENTS", 10)),
        webhook_retry_seconds=_seconds_list("WEBBUILDER_WEBHOOK_RETRY_SECONDS", (10.0, 60.0, 300.0, 1800.0)),
        webhook_allow_private=_flag("WEBBUILDER_WEBHOOK_ALLOW_PRIVATE", False),
        smtp_host=os.environ.get("WEBBUILDER_SMTP_HOST", "").strip() or None,
        smtp_port=_int("WEBBUILDER_SMTP_PORT", 25),
        smtp_user=os.environ.get("WEBBUILDER_SMTP_USER", "").strip() or None,
        smtp_password=os.environ.get("WEBBUILDER_SMTP_PASSWORD") or None,
        smtp_from=os.environ.get("WEBBUILDER_SMTP_FROM", "").strip() or f"webbuilder@{_host_of(public_url)}",
        smtp_starttls=_flag("WEBBUILDER_SMTP_STARTTLS", False),
        trusted_proxies=_networks("WEBBUILDER_TRUSTED_PROXIES"),
        login_account_failures=max(1, _int("WEBBUILDER_LOGIN_ACCOUNT_FAILURES", 20)),
        login_backoff_max_seconds=max(1.0, _float("WEBBUILDER_LOGIN_BACKOFF_MAX_SECONDS", 30.0)),
        login_client_failures=max(1, _int("WEBBUILDER_LOGIN_CLIENT_FAILURES", 50)),
        registrations_per_hour=max(1, _int("WEBBUILDER_REGISTRATIONS_PER_HOUR", 5)),
        session_days=max(0.0, _float("WEBBUILDER_SESSION_DAYS", 14.0)),
        session_idle_hours=max(0.0, _float("WEBBUILDER_SESSION_IDLE_HOURS", 72.0)),
        quota_active_builds=max(0, _int("WEBBUILDER_QUOTA_ACTIVE_BUILDS", 20)),
        quota_uploads_per_hour=max(0, _int("WEBBUILDER_QUOTA_UPLOADS_PER_HOUR", 60)),
        quota_storage_mb=max(0, _int("WEBBUILDER_QUOTA_STORAGE_MB", 2048)),
        quota_event_streams=max(0, _int("WEBBUILDER_QUOTA_EVENT_STREAMS", 10)),
        metrics_allow=_networks("WEBBUILDER_METRICS_ALLOW"),
    )


def _host_of(url: str) -> str:
    """The host name of the app's address, for the default sender of emails."""
    return urlsplit(url).hostname or "localhost"
