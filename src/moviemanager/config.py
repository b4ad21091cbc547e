"""Settings, read from the environment when asked for, never at import time."""

import json
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PACKAGED_CSV_DIR = Path(__file__).parent / "data"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MOVIEMANAGER_", extra="ignore")

    # Unset: start the embedded PostgreSQL under data_dir.
    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    data_dir: Path = Path(".moviemanager")
    csv_dir: Path = PACKAGED_CSV_DIR
    load_defaults: bool = True
    migrate_on_start: bool = True
    cors_origins: list[str] = ["*"]
    log_level: str = "info"
    db_pool_size: int = Field(default=10, ge=1)
    db_pool_timeout: float = Field(default=5.0, gt=0)
    max_upload_mb: int = Field(default=1024, ge=1)
    # Memory for response bodies of GET /movies (movies/reading/page_cache.py); 0: none.
    page_cache_mb: int = Field(default=64, ge=0)
    # Keep the tenants' data versions in memory, told by LISTEN/NOTIFY (tenants/versions.py); off:
    # read the version with each request (for a connection pooler in transaction mode, which
    # does not deliver notifications).
    listen_data_versions: bool = True
    # Signs pagination cursors; unset: a random one kept in data_dir/cursor-secret.
    cursor_secret: SecretStr | None = None

    # Unset: generated on first start and kept in data_dir/admin_token (see auth.py).
    admin_token: SecretStr | None = Field(default=None, min_length=16)
    # User accounts (accounts/): how long a login token lasts; whether anyone may register.
    login_token_hours: float = Field(default=12, gt=0)
    allow_registration: bool = False
    # Failed logins allowed per username and per client address within the window; then 429.
    login_failure_limit: int = Field(default=5, ge=1)
    login_failure_window_minutes: float = Field(default=15, gt=0)

    # Requests are served as the app role (moviemanager_app): with this URL, else with DATABASE_URL
    # (or the embedded server's) logging in as that role, with app_role_password if set.
    app_database_url: str | None = None
    # Set by the migrating start (serve, migrate) on the role, for servers that ask for a password.
    app_role_password: SecretStr | None = None
    # Seconds, on every transaction; 0: no limit.
    db_statement_timeout: float = Field(default=30.0, ge=0)
    db_lock_timeout: float = Field(default=5.0, ge=0)
    import_statement_timeout: float = Field(default=3600.0, ge=0)
    reload_lock_timeout: float = Field(default=30.0, ge=0)
    # Streaming-replication standbys for the hot reads (replicas.py): a JSON list or comma-separated.
    read_replica_urls: Annotated[list[str], NoDecode] = []
    # A standby further behind the primary than this, in seconds, is skipped until it catches up.
    replica_max_lag_s: float = Field(default=5.0, gt=0)

    @field_validator("read_replica_urls", mode="before")
    @classmethod
    def _split_urls(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip()
            if value.startswith("["):
                return json.loads(value)
            return [url.strip() for url in value.split(",") if url.strip()]
        return value

    # GET /metrics (metrics_router.py): on (open), token (MOVIEMANAGER_METRICS_TOKEN), off (no route).
    metrics: Literal["on", "token", "off"] = "on"
    metrics_token: SecretStr | None = Field(default=None, min_length=16)

    @model_validator(mode="after")
    def _metrics_token_given(self) -> Self:
        if self.metrics == "token" and self.metrics_token is None:
            raise ValueError("MOVIEMANAGER_METRICS=token needs MOVIEMANAGER_METRICS_TOKEN (16 characters or more)")
        return self

    @property
    def admin_token_file(self) -> Path:
        return self.data_dir.expanduser().resolve() / "admin_token"

    @property
    def embedded_pgdata(self) -> Path:
        return self.data_dir.expanduser().resolve() / "pgdata"
