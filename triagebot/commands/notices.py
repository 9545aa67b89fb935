"""Messages for the operator about where settings came from: the API key's source when
Bugzilla rejects it, and the defaults used when no configuration file was found.

They name sources (a variable, a file), never a secret's value.
"""

from __future__ import annotations

import argparse
import logging
import os

from triagebot.bugzilla.client import public_url
from triagebot.files.config import Config, load_config
from triagebot.service import logs


def key_source(config: Config) -> str:
    """Where `Config.api_key` took the key from, in the words the operator set it with."""
    if os.environ.get(config.bugzilla.api_key_env, "").strip():
        return f"${config.bugzilla.api_key_env}"
    path = config.bugzilla.api_key_path()
    if path is not None:
        return str(path)
    return "nowhere (no key is set)"


def key_rejected(config: Config, reason: str) -> str:
    """The one line for an API key Bugzilla refuses: which server, which key source, why."""
    return (
        f"Bugzilla at {public_url(config.bugzilla.url)} rejected the API key from "
        f"{key_source(config)}: {reason}"
    )


def defaults_notice(config: Config) -> str:
    """One line when no configuration file was found: what the bot runs with instead."""
    mode = "dry run" if config.run.dry_run else "live"
    return (
        f"note: no configuration file (--config, $TRIAGEBOT_CONFIG, ./triagebot.toml); "
        f"defaults: {public_url(config.bugzilla.url)}, {mode}, registry "
        f"{config.registry.path}/, rules {config.rules.path}/, {config.database.url}"
    )


def command_config(args: argparse.Namespace) -> Config:
    """The configuration, with the defaults notice on stderr when no file was found (for
    commands that talk to Bugzilla or the database: it changes what they do)."""
    config = load_config(args.config)
    logs.use_format(getattr(args, "log_format", None) or config.log.format)
    if config.path is None:
        logs.say(logging.WARNING, defaults_notice(config), prefix="")
    return config
