"""The API key never shows: not in any log line (urllib3's connection debug lines included),
not in an exception's str, repr or traceback, not in `Client` repr, not in what the CLI
prints (`once`, `status`), whether it travels in the query string (upstream 5.0, which
ignores the header) or in the X-BUGZILLA-API-KEY header (bugzilla.mozilla.org), through
answered errors (500, 401/410, 306 for a bad key) and unanswered ones (connection refused,
dropped). And a key file others can read is refused, clearly, with exit code 2."""

from __future__ import annotations

import io
import logging
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from standin import DROP, FaultyBugzilla, RequestInfo

from triagebot.bugzilla.client import BugzillaError, Client
from triagebot.commands import cli
from triagebot.demo import devserver

ROOT = Path(__file__).resolve().parents[1]
BOT = "triagebot@example.org"
PRODUCT = "Participation Infrastructure"
# A realistic 40-character key, and one with characters a URL must encode.
KEYS = {
    "plain": "Zq7mS3crtK3yF0rTr1agebotTests0123456789A",
    "odd": "s3cr3t+key/with=odd&chars%41~x",
}
BAD_KEY = "WrongKeyWrongKeyWrongKeyWrongKey12345678"


def forms(secret: str) -> set[str]:
    """Every way a key can be written in a URL or a log line."""
    return {secret, quote(secret, safe=""), quote_plus(secret), quote(secret)}


class RawHandler(logging.Handler):
    """Collects every record that reaches the root logger, formatted with its traceback. It
    refuses handler filters: it stands for a handler added after start-up (a journal, a file
    in `run` mode), so what it sees shows what the loggers' own redaction lets through."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.stream = io.StringIO()
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def addFilter(self, filter) -> None:  # type: ignore[override]
        return  # refused

    def emit(self, record: logging.LogRecord) -> None:
        self.stream.write(self.format(record) + "\n")

    @property
    def text(self) -> str:
        return self.stream.getvalue()


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[RawHandler]:
    """Everything at DEBUG: the root logger, urllib3's connection lines, python-bugzilla."""
    caplog.set_level(logging.DEBUG)
    for name in ("urllib3", "bugzilla", "requests", "triagebot"):
        caplog.set_level(logging.DEBUG, logger=name)
    raw = RawHandler()
    root = logging.getLogger()
    root.addHandler(raw)
    try:
        yield raw
    finally:
        root.removeHandler(raw)


def assert_hidden(secret: str, *texts: str) -> None:
    for text in texts:
        for form in forms(secret):
            assert form not in text, f"the key ({form!r}) leaked:\n{text[:3000]}"


def exception_texts(exc: BaseException) -> list[str]:
    """str, repr, args and the formatted traceback of an exception and its whole chain."""
    texts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        texts += [str(current), repr(current), repr(current.args)]
        texts.append("".join(traceback.format_exception(current)))
        current = current.__cause__ or current.__context__
    return texts


def seed(fake: FaultyBugzilla, now: datetime) -> list[int]:
    fake.add_user("lucia@example.org", "Lucía")
    return [
        fake.add_bug(
            summary,
            summary + "\n\nDetails.",
            creator,
            creation_time=now - timedelta(minutes=30 - n),
        )
        for n, (summary, creator) in enumerate(
            (
                ("Mailing list for Mozilla Hispano translators", "lucia@example.org"),
                ("Need a server for our group", "newcomer@example.org"),
                ("TLS certificate of mozfr.example.org expired", "visitor@example.org"),
                ("Renew hosting for the Mozilla Tamil site", "kavin@example.org"),
            )
        )
    ]


def write_config(
    tmp: Path, url: str, key: str, key_in: str, start: datetime, *, mode: int = 0o600
) -> Path:
    return devserver.write_config(
        tmp,
        url,
        api_key=key,
        bot_login=BOT,
        data=ROOT / "data",
        rules=ROOT / "rules",
        start=start,
        key_in=key_in,
        page_size=2,
        key_mode=mode,
    )


@pytest.fixture(autouse=True)
def no_key_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRIAGEBOT_API_KEY", raising=False)
    monkeypatch.delenv("TRIAGEBOT_CONFIG", raising=False)


# -- a whole live poll, errors included -----------------------------------------------------------
@pytest.mark.parametrize(
    ("key_name", "key_in", "header_ignored"),
    [
        ("plain", "query", True),  # upstream 5.0: the key in every URL
        ("odd", "query", True),  # percent-encoded in URLs
        ("plain", "header", False),  # bugzilla.mozilla.org
        ("plain", "header", True),  # 5.0 ignores the header: reads anonymous, writes 401/410
    ],
)
def test_a_live_poll_with_failures_never_shows_the_key(
    key_name, key_in, header_ignored, tmp_path, logs, caplog, capsys
):
    key = KEYS[key_name]
    now = datetime.now(UTC).replace(microsecond=0)
    with FaultyBugzilla(api_key=key, bot_login=BOT, header_ignored=header_ignored) as fake:
        bugs = seed(fake, now)
        config = write_config(tmp_path, fake.url, key, key_in, now - timedelta(hours=1))
        # A GET answered 500 once (urllib3 retries it, logging the URL); PUTs answered 500
        # (not retried: the bot logs the error and keeps the intent), 400 with a message that
        # echoes the request (as a proxy or a debug build may: stored, shown by `status`),
        # an Apache 404 page that echoes the URL (python-bugzilla logs the body), and one
        # whose connection is dropped.
        echo = (
            f"/rest/bug/1?Bugzilla_api_key={quote_plus(key)}"
            if key_in == "query"
            else f"X-BUGZILLA-API-KEY: {key}"
        )
        fake.fail_next(500, kind="comments", body="<html>Internal Server Error</html>")
        fake.fail_next(500, kind="update", body="<html>Internal Server Error</html>")
        rejected = {"error": True, "code": 129, "message": f"Bad flag status in {echo} ({key})"}
        fake.fail_next(400, kind="update", body=rejected)
        fake.fail_next(404, kind="update", body=f"<p>The requested URL {echo} was not found</p>")
        dropped: list[int] = []

        def drop_the_second_put(info: RequestInfo) -> object:
            if info.kind == "update" and info.phase == "before":
                dropped.append(info.number)
                if len(dropped) == 2:
                    return DROP
            return None

        fake.on_request(drop_the_second_put)
        code = cli.main(["-vv", "--config", str(config), "once", "--live"])
        once = capsys.readouterr()
        assert code == 1  # some writes failed, retried next poll
        assert len(dropped) >= 4  # every fault was served
        assert not fake._faults
        if header_ignored and key_in == "header":
            assert not any(c["creator"] == BOT for b in bugs for c in fake.comments_of(b))
        assert cli.main(["--config", str(config), "status"]) == 0
        status = capsys.readouterr()
    assert "Bad flag status in" in status.out  # the echoing error is shown, redacted
    # urllib3's own lines were captured: the test would see a key in a URL
    assert "urllib3.connectionpool" in logs.text and '"PUT /rest/bug/' in logs.text
    assert "Bugzilla_api_key" not in logs.text  # no query string of a URL is shown
    assert_hidden(key, logs.text, caplog.text, once.out, once.err, status.out, status.err)
    for record in caplog.records:
        assert_hidden(key, record.getMessage(), str(record.args), record.exc_text or "")


def test_a_bad_key_is_refused_without_being_shown(tmp_path, logs, caplog, capsys):
    now = datetime.now(UTC).replace(microsecond=0)
    with FaultyBugzilla(api_key=KEYS["plain"], bot_login=BOT) as fake:
        seed(fake, now)
        config = write_config(tmp_path, fake.url, BAD_KEY, "query", now - timedelta(hours=1))
        code = cli.main(["-vv", "--config", str(config), "once", "--live"])
        out = capsys.readouterr()
    assert code == 2 and "306" in out.err  # the product check is the first real call
    assert_hidden(BAD_KEY, logs.text, caplog.text, out.out, out.err)


# -- exceptions and the client itself -------------------------------------------------------------
def test_errors_from_every_failure_carry_no_key(logs, caplog):
    key = KEYS["odd"]
    errors: list[BugzillaError] = []
    with FaultyBugzilla(api_key=key, bot_login=BOT) as fake:
        bug = fake.add_bug("s", "d", "lucia@example.org")
        client = Client(fake.url, key, requests_per_minute=None, sleep=lambda _s: None)
        bad = Client(fake.url, BAD_KEY, requests_per_minute=None, sleep=lambda _s: None)
        header = Client(
            fake.url, key, key_in="header", requests_per_minute=None, sleep=lambda _s: None
        )
        fake.fail_next(500, kind="update", body="<html>oops</html>")
        fake.fail_next(503, kind="comments", times=4, body="<html>busy</html>")  # 1 + 3 retries
        fake.on_request(lambda i: DROP if i.kind == "time" else None)
        calls = [
            lambda: client.update(bug, comment="x", whiteboard=None, needinfo=[]),  # 500
            lambda: client.comments([bug]),  # 503, retried until it gives up
            lambda: client._get("/time"),  # connection dropped
            lambda: client.update(bug, comment="x", whiteboard=None, needinfo=["ghost@x.org"]),
            lambda: bad.comments([bug]),  # 306
            lambda: header.update(bug, comment="x", whiteboard=None, needinfo=[]),  # 401/410
        ]
        for call in calls:
            with pytest.raises(BugzillaError) as caught:
                call()
            errors.append(caught.value)
        texts = [repr(client), repr(bad), repr(header)]
    with FaultyBugzilla() as gone:
        url = gone.url
    refused = Client(url, key, retries=1, requests_per_minute=None, sleep=lambda _s: None)
    with pytest.raises(BugzillaError) as caught:
        list(refused.search_changed(PRODUCT, ["Community IT"], datetime(2026, 1, 1, tzinfo=UTC)))
    errors.append(caught.value)
    texts.append(repr(refused))
    assert [e.code for e in errors] == [None, None, None, 51, 306, 410, None]
    assert "cannot reach Bugzilla at http://127.0.0.1:" in str(errors[-1])
    for error in errors:
        assert error.__cause__ is None and error.__context__ is None  # no URL-bearing chain
        texts += exception_texts(error)
    assert "Retrying" in logs.text  # urllib3's retry warning names the URL
    assert_hidden(key, *texts, logs.text, caplog.text)
    assert_hidden(BAD_KEY, *texts, logs.text, caplog.text)


def test_client_repr_says_only_whether_a_key_is_set():
    key = KEYS["plain"]
    client = Client("http://127.0.0.1:9", key, key_in="header")
    assert repr(client) == "Client('http://127.0.0.1:9', key_in='header', api_key=<set>)"
    assert key not in repr(vars(client).get("session"))
    assert "none" in repr(Client("http://127.0.0.1:9"))


# -- the key file ---------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_key_file_others_can_read_is_refused_with_exit_2(mode, tmp_path, capsys):
    key = KEYS["plain"]
    config = write_config(
        tmp_path, "http://127.0.0.1:9", key, "query", datetime(2026, 1, 1, tzinfo=UTC), mode=mode
    )
    code = cli.main(["--config", str(config), "once", "--live"])
    out = capsys.readouterr()
    assert code == 2
    assert "readable by other users" in out.err
    assert f"chmod 600 {tmp_path / 'api-key'}" in out.err
    assert f"mode {mode:o}" in out.err
    assert_hidden(key, out.out, out.err)
