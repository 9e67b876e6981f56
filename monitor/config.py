"""Settings: declared once in ``config/default.toml``, overridden per installation, checked at start.

``$LIKENESS_HOME/config.toml`` may override any setting of ``config/default.toml``; an unknown
name or a value of the wrong type is refused with a one-line error naming it.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from enrollment.errors import LikenessError, error_line
from enrollment.settings import FACE_DETECTORS, FaceSettings, MediaLimits, VoiceSettings

DEFAULT_CONFIG_PATH = Path(__file__).resolve().parent.parent / "config" / "default.toml"
DEFAULT_HOME = Path("likeness-data")


class ConfigError(LikenessError):
    """A setting is unknown or has the wrong type."""


@dataclass(frozen=True)
class StorageSettings:
    database_url: str
    blob_url: str = ""
    s3_endpoint_url: str = ""


@dataclass(frozen=True)
class FetchSettings:
    timeout_s: float
    connect_timeout_s: float
    max_total_s: float
    user_agent: str
    max_redirects: int
    max_page_bytes: int
    allowed_hosts: list
    max_concurrency: int
    per_host_concurrency: int
    per_host_delay_s: float
    respect_robots_txt: bool

    @property
    def all_allowed_hosts(self) -> frozenset[str]:
        """``allowed_hosts`` plus ``$LIKENESS_ALLOWED_HOSTS`` (comma-separated), lower-cased."""
        extra = os.environ.get("LIKENESS_ALLOWED_HOSTS", "")
        return frozenset(h.strip().lower() for h in [*self.allowed_hosts, *extra.split(",")] if h.strip())


@dataclass(frozen=True)
class CrawlSettings:
    default_every_s: int
    default_depth: int
    max_pages_per_run: int
    max_files_per_run: int
    max_host_failures: int
    jitter_s: int


@dataclass(frozen=True)
class ScanSettings:
    merge_gap_s: float
    closest_per_modality: int


@dataclass(frozen=True)
class WorkerSettings:
    """Processes: not in ScanSettings, whose every field is part of the analysis key."""

    analysis: int
    item_timeout_s: float
    broker_url: str = ""


@dataclass(frozen=True)
class AlertSettings:
    voice_threshold: float
    face_threshold: float
    max_per_recipient_per_hour: int
    retry_first_s: float
    retry_max_s: float
    give_up_after_s: float
    send_every_s: int
    review_url: str
    urls: list

    @property
    def all_urls(self) -> list[str]:
        """``urls`` plus ``$LIKENESS_ALERT_URLS`` (comma- or space-separated), in that order, without repeats."""
        extra = os.environ.get("LIKENESS_ALERT_URLS", "").replace(",", " ").split()
        return list(dict.fromkeys(u.strip() for u in [*self.urls, *extra] if u.strip()))


SMTP_SECURITY = ("none", "starttls", "ssl")


@dataclass(frozen=True)
class SmtpSettings:
    """The mail server; each setting overridable by ``LIKENESS_SMTP_<NAME>``; see :meth:`effective`."""

    host: str
    port: int
    username: str
    from_address: str
    security: str
    timeout_s: float

    def effective(self) -> SmtpSettings:
        """These settings with the environment's overrides applied and checked."""
        env = os.environ
        values = {
            "host": env.get("LIKENESS_SMTP_HOST", self.host),
            "port": env.get("LIKENESS_SMTP_PORT", str(self.port)),
            "username": env.get("LIKENESS_SMTP_USERNAME", self.username),
            "from_address": env.get("LIKENESS_SMTP_FROM", self.from_address),
            "security": env.get("LIKENESS_SMTP_SECURITY", self.security).strip().lower(),
        }
        if not str(values["port"]).isdigit():
            raise ConfigError(f"LIKENESS_SMTP_PORT must be a port number, not {values['port']!r}")
        if values["security"] not in SMTP_SECURITY:
            raise ConfigError(f"smtp security must be one of {', '.join(SMTP_SECURITY)}, not {values['security']!r}")
        return dataclasses.replace(self, **{**values, "port": int(values["port"])})

    @property
    def password(self) -> str:
        """From ``$LIKENESS_SMTP_PASSWORD`` only."""
        return os.environ.get("LIKENESS_SMTP_PASSWORD", "")


@dataclass(frozen=True)
class EvidenceSettings:
    timestamp_urls: list
    timestamp_timeout_s: float


@dataclass(frozen=True)
class CredentialsSettings:
    trust_anchors: str


@dataclass(frozen=True)
class WebSettings:
    max_upload_bytes: int


@dataclass(frozen=True)
class NoticeSettings:
    contacts: dict  # host → an e-mail address or a form's https:// URL (monitor.enforcement.contacts)
    recheck_after_hours: list  # hours after a notice is sent when its material is captured again


# Settings that take one of a few words: (section, name) → the words.
CHOICES: dict[tuple[str, str], tuple[str, ...]] = {("face", "detector"): FACE_DETECTORS}

SECTIONS: dict[str, type] = {
    "storage": StorageSettings,
    "media": MediaLimits,
    "fetch": FetchSettings,
    "crawl": CrawlSettings,
    "voice": VoiceSettings,
    "face": FaceSettings,
    "scan": ScanSettings,
    "alerts": AlertSettings,
    "smtp": SmtpSettings,
    "evidence": EvidenceSettings,
    "workers": WorkerSettings,
    "credentials": CredentialsSettings,
    "web": WebSettings,
    "notices": NoticeSettings,
}


@dataclass(frozen=True)
class Config:
    home: Path
    storage: StorageSettings
    media: MediaLimits
    fetch: FetchSettings
    crawl: CrawlSettings
    voice: VoiceSettings
    face: FaceSettings
    scan: ScanSettings
    alerts: AlertSettings
    smtp: SmtpSettings
    evidence: EvidenceSettings
    workers: WorkerSettings
    credentials: CredentialsSettings
    web: WebSettings
    notices: NoticeSettings

    @property
    def database_url(self) -> str:
        url = os.environ.get("LIKENESS_DATABASE_URL") or self.storage.database_url
        return url or f"sqlite:///{(self.home / 'likeness.db').resolve()}"

    @property
    def store_dir(self) -> Path:
        """This machine's folder of the content store (its working copy where a bucket is shared)."""
        return self.home / "store"

    @property
    def blob_url(self) -> str:
        """``s3://BUCKET[/PREFIX]`` shared by every machine of the install, or "" (the folder alone)."""
        return os.environ.get("LIKENESS_BLOB_URL") or self.storage.blob_url

    @property
    def broker_url(self) -> str:
        """The RabbitMQ broker that hands analyses to ``likeness worker`` processes (``amqp://…``), or "" (analyses
        run in the process that asks). ConfigError for one beside a SQLite database, which other machines cannot
        share."""
        url = os.environ.get("LIKENESS_BROKER_URL") or self.workers.broker_url
        if url and self.database_url.startswith("sqlite"):
            raise ConfigError("a broker needs a database every worker shares: set LIKENESS_DATABASE_URL to "
                              "PostgreSQL (SQLite stays on one machine)")
        if url and not url.startswith(("amqp://", "amqps://")):
            raise ConfigError(f"the broker must be an amqp:// or amqps:// URL (RabbitMQ), not {url.split(':')[0]}:…")
        return url

    @property
    def s3_endpoint_url(self) -> str:
        """The S3-compatible server's URL ("" for AWS itself)."""
        return os.environ.get("LIKENESS_S3_ENDPOINT_URL") or self.storage.s3_endpoint_url

    @property
    def keys_dir(self) -> Path:
        """The installation's signing key (evidence bundles), created by ``init``; mode 0700."""
        return self.home / "keys"

    @property
    def user_config_path(self) -> Path:
        return self.home / "config.toml"

    def replace(self, section: str, **values) -> Config:
        """A copy with some settings of one section changed (for tests and benchmarks)."""
        return dataclasses.replace(self, **{section: dataclasses.replace(getattr(self, section), **values)})


def resolve_home(home: str | Path | None = None) -> Path:
    """``--home``, else ``$LIKENESS_HOME``, else ``./likeness-data``."""
    return Path(home or os.environ.get("LIKENESS_HOME") or DEFAULT_HOME)


def load_config(home: str | Path | None = None) -> Config:
    home_dir = resolve_home(home)
    values = _read_toml(DEFAULT_CONFIG_PATH)
    user_path = home_dir / "config.toml"
    if user_path.is_file():
        _merge(values, _read_toml(user_path), user_path)
    sections = {name: _build(cls, values.get(name, {}), name) for name, cls in SECTIONS.items()}
    return Config(home=home_dir, **sections)


def _read_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as stream:
            return tomllib.load(stream)
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not UTF-8 text (byte {error.start + 1} cannot be read)") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error_line(error)}") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot be read: {error.strerror or error_line(error)}") from None
    except RecursionError:
        raise ConfigError(f"{path}: not valid TOML: nested too deeply") from None


def _merge(values: dict, overrides: dict, path: Path) -> None:
    for section, settings in overrides.items():
        if section not in values or not isinstance(settings, dict):
            raise ConfigError(f"{path}: unknown section [{section}]")
        for name, value in settings.items():
            if name not in values[section]:
                raise ConfigError(f"{path}: unknown setting {section}.{name}")
            default = values[section][name]
            if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if type(value) is not type(default):
                raise ConfigError(
                    f"{path}: {section}.{name} must be a {type(default).__name__}, not {value!r}"
                )
            values[section][name] = value


def _build(cls: type, values: dict, section: str):
    names = {field.name for field in dataclasses.fields(cls)}
    if set(values) != names:
        missing, extra = names - set(values), set(values) - names
        raise ConfigError(f"config/default.toml [{section}] is out of step with the code: {missing or extra}")
    for (choice_section, name), words in CHOICES.items():
        if choice_section == section and values[name] not in words:
            raise ConfigError(f"{section}.{name} must be one of {', '.join(words)}, not {values[name]!r}")
    return cls(**values)
