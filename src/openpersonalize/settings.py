"""Every setting of the service: its type, its default and its env var (OPENPERSONALIZE_<NAME>).

Nothing else in the package reads os.environ.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

ENV_PREFIX = "OPENPERSONALIZE_"


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = field(default_factory=lambda: Path("./openpersonalize-data"))
    # Metadata database; empty means SQLite at <data_dir>/metadata.db.
    metadata_url: str = ""
    # Object store for dataset files and model artifacts; empty means file://<data_dir>/objects.
    object_url: str = ""
    # S3-compatible endpoint for s3:// object stores and s3:// data locations (empty = AWS default).
    s3_endpoint_url: str = ""
    s3_region: str = "us-east-1"
    s3_access_key_id: str = ""
    s3_secret_access_key: str = field(default="", repr=False)  # secrets stay out of logs and reprs
    # Folders file:// data locations may name, ':'-separated (empty: the directory the process
    # started in, unless that is '/'); see data/file_roots.py for what is never allowed.
    file_roots: str = ""
    # ARNs carry these; the region is taken from the request's SigV4 scope when present.
    account_id: str = "123456789012"
    region: str = "us-east-1"
    # Job workers `serve` spawns (0: run none; start `openpersonalize worker` yourself).
    workers: int = 1
    # Server processes sharing the port (SO_REUSEPORT), so every core answers requests.
    processes: int = 1
    job_poll_seconds: float = 0.1
    # Set by `serve` for the workers it starts: they exit when that process is gone (even kill -9).
    parent_pid: int = 0
    # A job whose worker has not sent a heartbeat for this long is taken as crashed.
    job_stale_seconds: float = 30.0
    job_max_attempts: int = 3
    # Memory a worker's job may use before it is failed as out of memory (0: 90% of the machine's).
    job_memory_limit_megabytes: int = 0
    # AWS refuses interactions import jobs with fewer records than this.
    min_import_interactions: int = 1000
    # When set ("AKID:secret[,AKID2:secret2]"), requests must carry a valid SigV4 signature by one of these.
    credentials: str = field(default="", repr=False)
    # Training needs at least this many interactions (after eventType/eventValueThreshold), as AWS.
    min_training_interactions: int = 1000
    # First automatic training after a solution is created (AWS: within an hour); checked every tick.
    auto_training_first_delay_seconds: float = 3600.0
    scheduler_tick_seconds: float = 30.0
    # BLAS threads a training job may use (0: every CPU of the worker).
    training_threads: int = 0
    # The server seals its event-log segment this often; workers then compact sealed segments to Parquet.
    event_log_seal_seconds: float = 60.0
    compaction_seconds: float = 60.0
    # How often a server reads the events other server processes took (any machine, with PostgreSQL).
    tail_seconds: float = 0.05
    # Memory the serving process may spend on loaded models (least recently used go first).
    model_cache_megabytes: int = 4096
    # At start-up, serving reloads compacted events this recent into its live per-user state.
    live_events_window_seconds: float = 30 * 86400.0
    # Recommenders are retrained this often (AWS: every 7 days).
    recommender_retrain_days: float = 7.0
    # GET /recommendations (api/rest.py): the campaign or recommender asked when none is named;
    # "key=COLUMN,..." from Items columns to answer keys (empty: every column, lower-cased);
    # seconds an answer is reused (0: never; a new event of its user drops it); the CORS origin;
    # API keys accepted in X-Api-Key (empty: none needed, or --credentials when they are set).
    rest_default: str = ""
    rest_fields: str = ""
    rest_cache_seconds: float = 30.0
    rest_cors_origin: str = "*"
    rest_api_keys: str = field(default="", repr=False)
    # Error code for shape-constraint violations: InvalidInputException or ValidationException.
    validation_error_code: str = "InvalidInputException"
    log_level: str = "info"

    @property
    def resolved_metadata_url(self) -> str:
        return self.metadata_url or f"sqlite:///{(self.data_dir / 'metadata.db').resolve()}"

    @property
    def resolved_object_url(self) -> str:
        return self.object_url or (self.data_dir / "objects").resolve().as_uri()

    @property
    def resolved_file_roots(self) -> list[Path]:
        if self.file_roots:
            return [Path(part).resolve() for part in self.file_roots.split(":") if part.strip()]
        cwd = Path.cwd().resolve()
        return [] if cwd == Path("/") else [cwd]

    @property
    def event_log_dir(self) -> Path:
        return self.data_dir / "eventlog"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then OPENPERSONALIZE_* variables, then explicit overrides (None = not given)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is not None:
                values[f.name] = _coerce(f, raw)
        values.update({k: _coerce(_field(k), v) for k, v in overrides.items() if v is not None})
        return cls(**values)

    def to_json(self) -> str:
        """These settings for a child process's stdin: never its environment, which other
        processes of the same user can read (/proc/<pid>/environ) and which its own children inherit."""
        return json.dumps({f.name: str(getattr(self, f.name)) for f in fields(self)})

    @classmethod
    def from_json(cls, text: str) -> Settings:
        values = json.loads(text)
        return cls(**{f.name: _coerce(f, values[f.name]) for f in fields(cls) if f.name in values})


def _field(name: str) -> dataclasses.Field[Any]:
    for f in fields(Settings):
        if f.name == name:
            return f
    raise KeyError(f"unknown setting {name!r}")


def _coerce(f: dataclasses.Field[Any], raw: Any) -> Any:
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    if not isinstance(raw, str):
        return Path(raw) if kind == "Path" else raw
    if kind == "int":
        return int(raw)
    if kind == "float":
        return float(raw)
    if kind == "bool":
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if kind == "Path":
        return Path(raw)
    return raw
