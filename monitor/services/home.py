"""The home folder: its config file, database and evidence signing key, created once."""

from __future__ import annotations

from monitor.services.context import Context

USER_CONFIG_TEMPLATE = (
    "# Settings for this installation. Any setting of config/default.toml may be overridden\n"
    "# here, in the same [section]; for example:\n# [voice]\n# threshold = 0.6\n"
)


def initialise(ctx: Context) -> dict:
    """Create the home folder, its config file, the database (migrated) and the signing key; safe to run
    again (what exists is kept) → ``{"home", "database", "config", "signing_key_fingerprint"}``, the
    database URL without its password."""
    from sqlalchemy.engine import make_url

    from monitor.evidence.keys import ensure_key, fingerprint, load_key

    config = ctx.config
    config.store_dir.mkdir(parents=True, exist_ok=True)
    if not config.user_config_path.exists():
        config.user_config_path.write_text(USER_CONFIG_TEMPLATE)
    ctx.sessions  # noqa: B018  (creates and migrates the database)
    ensure_key(config.keys_dir)  # signs evidence bundles; kept if it exists
    database = make_url(config.database_url).render_as_string(hide_password=True)
    return {"home": str(config.home.resolve()), "database": database, "config": str(config.user_config_path),
            "signing_key_fingerprint": fingerprint(load_key(config.keys_dir).public_key())}
