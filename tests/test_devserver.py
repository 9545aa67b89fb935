"""The loopback FaultyBugzilla driven by the real Client: real sockets on 127.0.0.1, real
urllib3 (retries, debug logging), the recorded shapes."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime, timedelta

import pytest
import requests
from conftest import load_recording
from standin import FaultyBugzilla

from triagebot.bugzilla.client import BugzillaError, Client
from triagebot.core.bugs import Flag

KEY = "SECRET-KEY-123"
BOT = "triagebot@example.org"
PRODUCT = "Participation Infrastructure"
NOW = datetime(2026, 11, 24, 7, 50, 53, tzinfo=UTC)


@pytest.fixture
def fake():
    with FaultyBugzilla(api_key=KEY, bot_login=BOT, clock=lambda: NOW) as server:
        yield server


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(fake: FaultyBugzilla, sleeps: list[float]) -> Client:
    return Client(fake.url, KEY, requests_per_minute=None, sleep=sleeps.append)


def seed(fake: FaultyBugzilla) -> list[int]:
    fake.add_user("alice@example.org", "Alice", id=3)
    fake.add_user("bob@example.org", "Bob")
    return [
        fake.add_bug(
            "Hosting for the Hispano wiki",
            "Hosting for the Hispano wiki\n\nMore details here.",
            "alice@example.org",
            creation_time=NOW + timedelta(seconds=3),
        ),
        fake.add_bug(
            "Renew the mozfr.example.org domain",
            "Renew the mozfr.example.org domain\n\nMore details here.",
            "carol@example.org",
            creation_time=NOW + timedelta(seconds=4),
        ),
        fake.add_bug(
            "Need a server",
            "Need a server\n\nMore details here.",
            "mallory@example.org",
            creation_time=NOW + timedelta(seconds=5),
            whiteboard="[triagebot-skip]",
        ),
        fake.add_bug(
            "Old request",
            "Filed before the window.",
            "alice@example.org",
            creation_time=NOW - timedelta(days=1),
        ),
        fake.add_bug(
            "Elsewhere",
            "Another component.",
            "alice@example.org",
            component="General",
            creation_time=NOW + timedelta(seconds=6),
        ),
    ]


def test_search_comments_update_roundtrip(fake, client):
    a, b, c, _old, _general = seed(fake)

    pages = list(client.search_changed(PRODUCT, ["Community IT"], NOW, page_size=2))
    assert [[bug.id for bug in page] for page in pages] == [[a, b], [c]]
    first = pages[0][0]
    assert (first.creator, first.creator_id, first.creator_name) == (
        "alice@example.org",
        3,
        "Alice",
    )
    assert first.creation_time == NOW + timedelta(seconds=3)
    assert pages[1][0].whiteboard == "[triagebot-skip]"

    comments = client.comments([a, b, c])
    assert {k: [x.text for x in v] for k, v in comments.items()} == {
        a: ["Hosting for the Hispano wiki\n\nMore details here."],
        b: ["Renew the mozfr.example.org domain\n\nMore details here."],
        c: ["Need a server\n\nMore details here."],
    }

    text = "Example bot comment.\n\n-- triagebot (rule community-it; ref abc)"
    assert (
        client.update(
            b, comment=text, whiteboard="[endorsement-needed]", needinfo=["bob@example.org"]
        )
        is None
    )

    state = fake.bugs[b]
    assert state["whiteboard"] == "[endorsement-needed]"
    assert [(f["name"], f["status"], f["requestee"], f["setter"]) for f in state["flags"]] == [
        ("needinfo", "?", "bob@example.org", BOT)
    ]
    assert state["cc"] == ["bob@example.org"]
    found = client.comments([b])[b][-1]
    assert (found.creator, found.count, found.text) == (BOT, 1, text)
    (page,) = list(client.search_changed(PRODUCT, ["Community IT"], NOW))
    (again,) = [x for x in page if x.id == b]
    assert again.flags[0] == Flag("needinfo", "?", "bob@example.org", BOT, again.flags[0].id)
    assert fake.comments_of(b)[-1]["creator"] == BOT


def test_unknown_requestee_rejects_the_whole_put(fake, client):
    bug = fake.add_bug("s", "d", "alice@example.org", whiteboard="before")
    with pytest.raises(BugzillaError) as err:
        client.update(
            bug, comment="should not be posted", whiteboard="after", needinfo=["ghost@example.org"]
        )
    rec = load_recording("error_unknown_requestee")["response"]
    assert err.value.code == 51
    assert err.value.message == rec["message"]
    assert [c["text"] for c in fake.comments_of(bug)] == ["d"]
    assert fake.bugs[bug]["whiteboard"] == "before"
    assert fake.bugs[bug]["flags"] == []


def test_counts_by_kind_match_the_client(fake, client):
    a, b, *_ = seed(fake)
    client._get("/time")
    client.check_products({PRODUCT: ["Community IT"]})
    list(client.search_changed(PRODUCT, ["Community IT"], NOW, page_size=500))
    client.comments([a, b])
    client.update(a, comment="x", whiteboard=None, needinfo=[])
    client.users(names=["alice@example.org"])
    expected = {
        "version": 1,
        "time": 1,
        "product": 1,
        "search": 1,
        "comments": 1,
        "update": 1,
        "user": 1,
    }
    assert fake.counts == expected
    assert client.requests_made == expected


def test_invisible_bugs_vanish_from_search_and_do_not_sink_comments(fake, client, caplog):
    a, b, c, *_ = seed(fake)
    fake.set_invisible(b)
    (page,) = list(client.search_changed(PRODUCT, ["Community IT"], NOW))
    assert [bug.id for bug in page] == [a, c]
    with caplog.at_level(logging.WARNING):
        found = client.comments([a, b, c])
    assert set(found) == {a, c}
    assert f"{b}" in caplog.text
    with pytest.raises(BugzillaError) as err:
        client.update(b, comment="x", whiteboard=None, needinfo=[])
    assert err.value.code == 102


def test_products_check(fake, client):
    fake.add_product(PRODUCT, ["Old"], inactive=["Old"])
    assert client.check_products({PRODUCT: ["Community IT", "General"]}) == []
    assert client.check_products({PRODUCT: ["Old", "Nope"], "Nope": ["X"]}) == [
        "component 'Old' of product 'Participation Infrastructure' is inactive "
        "(closed for new bugs)",
        "unknown component 'Nope' in product 'Participation Infrastructure' "
        "(known: Community IT, General, Old)",
        "unknown product 'Nope', or not visible to this account",
    ]
    # the second check asks for the server's product names once, for a did-you-mean (the
    # component message no longer reuses that variable for its own list)
    assert fake.counts["product"] == 3


def test_a_wrong_key_fails_on_the_first_real_call(fake, sleeps):
    client = Client(fake.url, "WRONG-KEY-0000", requests_per_minute=None, sleep=sleeps.append)
    assert client._get("/time")["db_time"] == NOW.strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )  # version and time ignore the key
    with pytest.raises(BugzillaError) as err:
        list(client.search_changed(PRODUCT, ["Community IT"], NOW))
    assert err.value.code == 306


def test_header_key_is_ignored_by_5_0_and_honoured_otherwise(fake, sleeps):
    bug = fake.add_bug("s", "d", "alice@example.org")
    client = Client(fake.url, KEY, key_in="header", requests_per_minute=None, sleep=sleeps.append)
    assert len(next(client.search_changed(PRODUCT, ["Community IT"], NOW - timedelta(days=1)))) == 1
    with pytest.raises(BugzillaError) as err:
        client.update(bug, comment="x", whiteboard=None, needinfo=[])
    assert err.value.code == 410  # as recorded: error_header_key_write.json

    fake.header_ignored = False  # bugzilla.mozilla.org, upstream 5.3
    client.update(bug, comment="x", whiteboard=None, needinfo=[])
    assert fake.comments_of(bug)[-1]["creator"] == BOT


def test_writes_without_a_key_are_410(fake, sleeps):
    bug = fake.add_bug("s", "d", "alice@example.org")
    client = Client(fake.url, None, requests_per_minute=None, sleep=sleeps.append)
    with pytest.raises(BugzillaError) as err:
        client.update(bug, comment="x", whiteboard=None, needinfo=[])
    assert err.value.code == 410


def test_real_urllib3_retries_a_get_and_honours_retry_after(fake, client, sleeps):
    seed(fake)
    fake.fail_next(
        503, kind="search", body="<html>busy</html>", headers={"Content-Type": "text/html"}
    )
    fake.fail_next(429, kind="search", headers={"Retry-After": "3"})
    (page,) = list(client.search_changed(PRODUCT, ["Community IT"], NOW))
    assert len(page) == 3
    assert fake.counts["search"] == 3  # two refused, one answered
    assert client.requests_made["search"] == 1  # retries happen below the session
    assert sleeps[-1] == 3.0  # Retry-After, not the backoff


def test_real_urllib3_never_retries_a_put(fake, client):
    bug = fake.add_bug("s", "d", "alice@example.org")
    fake.fail_next(503, kind="update", body="<html>busy</html>", headers={"Retry-After": "1"})
    with pytest.raises(BugzillaError) as err:
        client.update(bug, comment="x", whiteboard=None, needinfo=[])
    assert err.value.code is None and err.value.http_status == 503
    assert fake.counts["update"] == 1
    assert fake.comments_of(bug) and len(fake.comments_of(bug)) == 1


def test_error_body_with_201(fake, client):
    bug = fake.add_bug("s", "d", "alice@example.org")
    fake.fail_next(201, kind="update")
    with pytest.raises(BugzillaError) as err:
        client.update(bug, comment="x", whiteboard=None, needinfo=[])
    assert err.value.code == 100500


def test_connection_refused_is_an_error_without_code_and_without_key(sleeps, caplog):
    caplog.set_level(logging.DEBUG)
    with FaultyBugzilla() as gone:
        url = gone.url
    client = Client(url, KEY, retries=2, requests_per_minute=None, sleep=sleeps.append)
    with pytest.raises(BugzillaError) as err:
        client._get("/time")
    assert err.value.code is None
    assert re.fullmatch(
        rf"cannot reach Bugzilla at {url}: connection refused \(3 tries over \d+ s\)",
        str(err.value),
    )
    assert "Retrying" in caplog.text  # urllib3's warning, which names the URL
    assert KEY not in caplog.text


def test_no_key_in_real_urllib3_debug_logs(fake, client, caplog):
    caplog.set_level(logging.DEBUG)
    logging.getLogger("urllib3").setLevel(logging.DEBUG)
    a, b, *_ = seed(fake)
    list(client.search_changed(PRODUCT, ["Community IT"], NOW))
    client.update(a, comment="hello", whiteboard="[x]", needinfo=["bob@example.org"])
    with pytest.raises(BugzillaError):
        client.update(b, comment="x", whiteboard=None, needinfo=["ghost@example.org"])
    assert '"GET /rest/bug HTTP/1.1"' in caplog.text  # urllib3's line, without its query
    assert "Bugzilla_api_key" not in caplog.text
    assert '"PUT /rest/bug/' in caplog.text
    assert KEY not in caplog.text
    assert not any(KEY in r.getMessage() for r in caplog.records)


def test_header_mode_puts_the_key_in_no_url(fake, sleeps, caplog):
    caplog.set_level(logging.DEBUG)
    logging.getLogger("urllib3").setLevel(logging.DEBUG)
    fake.header_ignored = False
    bug = fake.add_bug("s", "d", "alice@example.org")
    client = Client(fake.url, KEY, key_in="header", requests_per_minute=None, sleep=sleeps.append)
    list(client.search_changed(PRODUCT, ["Community IT"], NOW - timedelta(days=1)))
    client.update(bug, comment="x", whiteboard=None, needinfo=[])
    lines = [r.getMessage() for r in caplog.records if r.name == "urllib3.connectionpool"]
    assert any('"PUT /rest/bug/' in line for line in lines)
    assert not any("api_key" in line.lower() for line in lines)


# -- the server on its own (raw HTTP, the recorded shapes) ---------------------------------


def test_raw_shapes(fake):
    bug = fake.add_bug("s", "d", "alice@example.org", creation_time=NOW)
    base = f"{fake.url}/rest"
    auth = {"api_key": KEY}

    r = requests.get(f"{base}/bug", params={**auth, "offset": 2}, timeout=5)
    assert r.status_code == 400 and r.json()["code"] == 50
    assert set(r.json()) == {"error", "code", "message", "documentation"}

    r = requests.get(
        f"{base}/bug",
        params={**auth, "product": "No Such Product", "include_fields": "id"},
        timeout=5,
    )
    assert r.json() == load_recording("search_unknown_product")["response"]

    r = requests.get(f"{base}/bug", params={**auth, "creation_time": "yesterday-ish"}, timeout=5)
    assert (r.status_code, r.json()) == (400, load_recording("error_bad_date")["response"])

    r = requests.get(f"{base}/bug", params={**auth, "include_fields": "id,summary"}, timeout=5)
    assert r.json() == {"bugs": [{"id": bug, "summary": "s"}]}

    r = requests.get(f"{base}/bug/{bug}", params=auth, timeout=5)
    assert (
        r.json()["faults"] == []
        and r.json()["bugs"][0]["creator_detail"]["email"] == "alice@example.org"
    )

    r = requests.get(f"{base}/bug/999999", params=auth, timeout=5)
    assert (r.status_code, r.json()) == (404, load_recording("error_no_such_bug")["response"])

    r = requests.get(f"{base}/time", timeout=5)
    assert r.json() == load_recording("time")["response"]
    assert r.headers["Date"] == "Tue, 24 Nov 2026 07:50:53 GMT"

    r = requests.get(f"{base}/version", timeout=5)
    assert r.json() == load_recording("version")["response"]

    r = requests.get(
        f"{base}/bug/{bug}",
        params={"api_key": "WRONGKEY0000000000000000000000000000000x"},
        timeout=5,
    )
    assert (r.status_code, r.json()) == (400, load_recording("error_bad_api_key")["response"])

    r = requests.get(f"{base}/nope", timeout=5)
    assert (r.status_code, r.json()["code"]) == (404, 32614)

    # python-bugzilla's own build_update shape, {"comment": {"comment": ...}}, is accepted too
    r = requests.put(
        f"{base}/bug/{bug}",
        params=auth,
        data=json.dumps({"ids": [bug], "comment": {"comment": "legacy"}}),
        headers={"Content-Type": "application/json"},
        timeout=5,
    )
    assert r.status_code == 200 and fake.comments_of(bug)[-1]["text"] == "legacy"

    r = requests.post(
        f"{base}/bug/{bug}/comment", params=auth, json={"comment": "A plain comment."}, timeout=5
    )
    assert r.status_code == 201 and set(r.json()) == {"id"}


def test_put_answer_matches_the_recorded_shape(fake):
    bug = fake.add_bug("s", "d", "alice@example.org")
    fake.add_user("bob@example.org")
    rec = load_recording("put_comment_whiteboard_needinfo")
    body = dict(rec["request"]["json"], ids=[bug])
    r = requests.put(f"{fake.url}/rest/bug/{bug}", params={"api_key": KEY}, json=body, timeout=5)
    (answer,) = r.json()["bugs"]
    expected = rec["response"]["bugs"][0]
    assert set(answer) == set(expected)
    assert answer["changes"] == expected["changes"]


def test_many_bugs_page_through(fake, client):
    """The benchmark's shape, smaller: every bug once, one request per page."""
    start = NOW - timedelta(hours=3)
    for n in range(2_000):
        fake.add_bug(
            f"s{n}", "d", f"u{n % 40}@example.org", creation_time=start + timedelta(seconds=n)
        )
    pages = list(client.search_changed(PRODUCT, ["Community IT"], start, page_size=300))
    ids = [bug.id for page in pages for bug in page]
    assert ids == sorted(ids) and len(ids) == len(set(ids)) == 2_000
    assert client.requests_made["search"] == 7
    found = client.comments(ids[:500])
    assert len(found) == 500 and client.requests_made["comments"] == 1


# -- filing bugs, as Bugzilla 5.0 takes them ----------------------------------------------
def test_new_bugs_and_comments_are_taken_as_bugzilla_5_0_answers(fake, client):
    fake.add_user_key("reporter-key-0000", "carol@example.org", "Carol")
    rest = f"{fake.url}/rest"
    bug = {
        "product": PRODUCT,
        "component": "Community IT",
        "version": "unspecified",
        "summary": "A wiki for our group",
        "description": "Please host a wiki.",
    }
    created = requests.post(f"{rest}/bug", params={"api_key": "reporter-key-0000"}, json=bug)
    assert created.status_code == 200
    bug_id = created.json()["id"]
    assert created.json() == {"id": bug_id}
    comment = requests.post(
        f"{rest}/bug/{bug_id}/comment", params={"api_key": KEY}, json={"comment": "Noted."}
    )
    assert comment.status_code == 201
    assert set(comment.json()) == set(load_recording("post_comment")["response"]) == {"id"}
    (found,) = [b for page in client.search_changed(PRODUCT, ["Community IT"], NOW) for b in page]
    assert (found.id, found.creator, found.summary) == (bug_id, "carol@example.org", bug["summary"])
    texts = [c.text for c in client.comments([bug_id])[bug_id]]
    assert texts == ["Please host a wiki.", "Noted."]
    assert fake.counts["create"] == 1 and fake.counts["comment"] == 1


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"version": None}, 400, 50),
        ({"product": "Nope"}, 400, 106),
        ({"component": "Nope"}, 400, 51),
        ({"api_key": None}, 401, 410),
        ({"api_key": "WRONG-KEY-0000"}, 400, 306),
    ],
)
def test_a_bad_new_bug_is_refused_with_bugzilla_codes(fake, change, status, code):
    bug = {
        "product": PRODUCT,
        "component": "Community IT",
        "version": "unspecified",
        "summary": "x",
        "api_key": KEY,
    } | change
    answer = requests.post(
        f"{fake.url}/rest/bug", json={k: v for k, v in bug.items() if v is not None}
    )
    assert answer.status_code == status
    assert answer.json()["error"] is True and answer.json()["code"] == code
    assert fake.bugs == {}
