"""What `queue`, `status` and `explain` show, as data: each reads what the poll reads and
says what the poll says, so the views in `commands` only format it.

`queue` asks Bugzilla; `status` reads the database, and neither creates one.
"""

from __future__ import annotations

from datetime import UTC, datetime

from triagebot.core import awaiting
from triagebot.core.bugs import Comment
from triagebot.core.bugstate import AWAITING, may_turn_stale
from triagebot.files.config import Config
from triagebot.service.run import load_registry_strict, make_client, rules_loader


def queue(config: Config, now: datetime | None = None) -> list[awaiting.Entry]:
    """The bugs awaiting endorsement under every rule, read from Bugzilla: one search per
    page, and one batched comments request per page holding a bug old enough to have turned
    stale (the age of the bot's ask decides, as for the bot's own sweep)."""
    now = now or datetime.now(UTC)
    registry = load_registry_strict(config.registry_path)
    client = make_client(config)
    rows: list[awaiting.Entry] = []
    for rule in rules_loader(config.rules_path)():
        for page in client.search_tagged(rule.product, list(rule.components), AWAITING):
            old = [b.id for b in page if may_turn_stale(b, rule, now)]
            comments: dict[int, list[Comment]] = client.comments(old) if old else {}
            rows += awaiting.entries(
                page, comments, registry, rule, now, config.bot_login, client.url
            )
    return rows
