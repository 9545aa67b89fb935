"""triagebot.bugzilla.client against mocked HTTP (`responses`) answering with the recorded bodies of
a real Bugzilla 5.0.6. No test here opens a socket."""

from __future__ import annotations

import json
import logging
import re
import traceback
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from conftest import load_recording
from urllib3 import HTTPResponse

from triagebot.bugzilla.client import SEARCH_FIELDS, BugzillaError, Client, rest_url
from triagebot.bugzilla.redaction import install_redaction, redact
from triagebot.bugzilla.transport import BotRetry, RequestBudget, make_retry, request_kind
from triagebot.core.bugs import Comment, Flag

BASE = "https://bugzilla.example.test"
REST = f"{BASE}/rest"
KEY = "SECRET-KEY-123"
PRODUCT = "Participation Infrastructure"


def query_of(call: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query, keep_blank_values=True)


def calls_to(rsps: responses.RequestsMock, method: str, path: str) -> list[Any]:
    return [
        c
        for c in rsps.calls
        if c.request.method == method and urlsplit(c.request.url).path == f"/rest{path}"
    ]


def reply(rsps: responses.RequestsMock, method: str, path: str, name: str, **kw: Any) -> None:
    """Answer `method path` with the recording's status and body."""
    rec = load_recording(name)
    rsps.add(method, f"{REST}{path}", json=rec["response"], status=rec["status"], **kw)


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def mocked():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        reply(rsps, "GET", "/version", "version")
        yield rsps


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def client(sleeps: Sleeps) -> Client:
    return Client(BASE, KEY, requests_per_minute=None, sleep=sleeps)


# -- search ------------------------------------------------------------------------------


def test_search_pages_until_a_short_page_with_exact_params(mocked, client):
    """Each request asks for one bug more than a page: the extra one tells that another page
    follows, and which bug it must start with."""
    template = load_recording("search_created_since")["response"]["bugs"][0]
    last = load_recording("search_created_since_page2")["response"]["bugs"][0]
    bugs = {8: template, 9: template, 10: template, 11: template, 12: last}

    def bug(n: int) -> dict:
        return {**bugs[n], "id": n}

    for ids in ((8, 9, 10), (10, 11, 12), (12,)):
        mocked.get(f"{REST}/bug", json={"bugs": [bug(n) for n in ids]})
    # a non-UTC, sub-second `since` is sent as whole UTC seconds
    since = datetime(2026, 11, 24, 8, 50, 53, 999_000, tzinfo=timezone(timedelta(hours=1)))

    pages = list(client.search_changed(PRODUCT, ["Community IT", "General"], since, page_size=2))

    assert [[b.id for b in page] for page in pages] == [[8, 9], [10, 11], [12]]
    searches = calls_to(mocked, "GET", "/bug")
    assert [query_of(c) for c in searches] == [
        {
            "Bugzilla_api_key": [KEY],
            "product": [PRODUCT],
            "component": ["Community IT", "General"],
            "last_change_time": ["2026-11-24T07:50:53Z"],
            "include_fields": [SEARCH_FIELDS],
            "order": ["bug_id"],
            "limit": ["3"],
            "offset": [offset],
        }
        for offset in ("0", "2", "4")
    ]
    assert client.requests_made == {"version": 1, "search": 3}
    first = pages[0][0]
    assert first.summary == "Hosting for the Hispano wiki"
    assert first.creator == "alice@example.org"
    assert (first.creator_id, first.creator_name) == (3, "Alice")
    assert first.creation_time == datetime(2026, 11, 24, 7, 50, 56, tzinfo=UTC)
    assert (first.product, first.component, first.status) == (
        PRODUCT,
        "Community IT",
        "UNCONFIRMED",
    )
    assert pages[2][0].whiteboard == "[triagebot-skip]"


def test_a_bug_leaving_the_results_between_pages_does_not_hide_the_next(mocked, client):
    """Bug 9 is moved out between the two requests: offset 2 now starts at 11, not 10. The
    search notices (10 was announced as the next page's first) and restarts from the top."""
    template = load_recording("search_created_since")["response"]["bugs"][0]

    def page(*ids: int) -> dict:
        return {"bugs": [{**template, "id": n} for n in ids]}

    for body in (page(8, 9, 10), page(11), page(8, 10, 11), page(11)):
        mocked.get(f"{REST}/bug", json=body)

    pages = list(
        client.search_changed(PRODUCT, ["Community IT"], datetime(2026, 1, 1), page_size=2)
    )

    assert sorted(b.id for p in pages for b in p) == [8, 9, 10, 11]
    assert [query_of(c)["offset"] for c in calls_to(mocked, "GET", "/bug")] == [
        ["0"],
        ["2"],
        ["0"],
        ["2"],
    ]


def test_idle_search_is_one_request(mocked, client):
    reply(mocked, "GET", "/bug", "search_no_results")
    pages = list(client.search_changed(PRODUCT, ["Community IT"], datetime(2099, 1, 1, tzinfo=UTC)))
    assert pages == [[]]
    assert client.requests_made["search"] == 1


def test_search_parses_flags(mocked, client):
    body = load_recording("bug_after_put")["response"]
    mocked.get(f"{REST}/bug", json={"bugs": body["bugs"]})
    (page,) = list(
        client.search_changed(PRODUCT, ["Community IT"], datetime(2026, 1, 1, tzinfo=UTC))
    )
    assert page[0].flags == (Flag("needinfo", "?", "bob@example.org", "triagebot@example.org", 4),)


def test_bad_date_is_error_56(mocked, client):
    reply(mocked, "GET", "/bug", "error_bad_date")
    with pytest.raises(BugzillaError) as err:
        list(client.search_changed(PRODUCT, ["Community IT"], datetime(2026, 1, 1, tzinfo=UTC)))
    assert err.value.code == 56


# -- comments ----------------------------------------------------------------------------


def test_comments_of_several_bugs_in_one_request(mocked, client):
    reply(mocked, "GET", "/bug/8/comment", "comments_batch")

    found = client.comments([8, 9, 10, 9])

    (call,) = calls_to(mocked, "GET", "/bug/8/comment")
    assert query_of(call) == {"Bugzilla_api_key": [KEY], "ids": ["9", "10"]}
    assert client.requests_made == {"version": 1, "comments": 1}
    assert set(found) == {8, 9, 10}
    assert found[9] == [
        Comment(
            id=15,
            bug_id=9,
            creator="carol@example.org",
            text="Renew the mozfr.example.org domain\n\nMore details here.",
            count=0,
            creation_time=datetime(2026, 11, 24, 7, 50, 57, tzinfo=UTC),
        )
    ]


def test_comments_of_nothing_is_no_request(mocked, client):
    assert client.comments([]) == {}
    assert client.requests_made == {}


def test_comments_of_one_bug_sends_no_ids(mocked, client):
    reply(mocked, "GET", "/bug/9/comment", "comments_after_put")
    found = client.comments([9])
    (call,) = calls_to(mocked, "GET", "/bug/9/comment")
    assert "ids" not in query_of(call)
    assert [c.count for c in found[9]] == [0, 1]
    assert "rule community-it" in found[9][1].text and found[9][1].id == 18


def _comments_answering(invisible: set[int]):
    """A callback answering the comments endpoint from comments_batch.json, and 401/102 when
    the batch holds an invisible bug, as 5.0 does."""
    per_bug = load_recording("comments_batch")["response"]["bugs"]
    error = load_recording("error_comments_batch_with_invisible")

    def answer(request: requests.PreparedRequest) -> tuple[int, dict, str]:
        url = urlsplit(request.url)
        first = int(url.path.split("/")[3])
        ids = [first] + [int(i) for i in parse_qs(url.query).get("ids", [])]
        hidden = [i for i in ids if i in invisible]
        if hidden:
            body = dict(
                error["response"], message=f"You are not authorized to access bug #{hidden[0]}."
            )
            return 401, {}, json.dumps(body)
        return 200, {}, json.dumps({"bugs": {str(i): per_bug[str(i)] for i in ids}, "comments": {}})

    return answer


def test_an_invisible_bug_does_not_sink_the_batch(mocked, client, caplog):
    mocked.add_callback("GET", re.compile(rf"{REST}/bug/\d+/comment"), _comments_answering({5}))

    with caplog.at_level(logging.WARNING, logger="triagebot.bugzilla.client"):
        found = client.comments([8, 5, 9, 10])

    assert set(found) == {8, 9, 10}
    assert found[10][0].creator == "mallory@example.org"
    # the batch, then bisection: [8, 5] -> [8], [5]; [9, 10]
    assert client.requests_made["comments"] == 5
    assert "5" in caplog.text and "not readable" in caplog.text


def test_comments_other_errors_are_raised(mocked, client):
    reply(mocked, "GET", "/bug/8/comment", "error_bad_api_key")
    with pytest.raises(BugzillaError) as err:
        client.comments([8, 9])
    assert err.value.code == 306
    assert client.requests_made["comments"] == 1


# -- the write ---------------------------------------------------------------------------


def test_update_is_one_put_with_comment_whiteboard_and_needinfo(mocked, client):
    rec = load_recording("put_comment_whiteboard_needinfo")
    reply(mocked, "PUT", "/bug/9", "put_comment_whiteboard_needinfo")
    sent = rec["request"]["json"]

    result = client.update(
        9,
        comment=sent["comment"]["body"],
        whiteboard=sent["whiteboard"],
        needinfo=["bob@example.org", "bob@example.org"],
    )

    assert result is None  # 5.0 does not say the comment's id
    (call,) = calls_to(mocked, "PUT", "/bug/9")
    assert json.loads(call.request.body) == {
        "ids": [9],
        "comment": {"body": "Example bot comment.\n\n-- triagebot (rule community-it)"},
        "whiteboard": "[community:mozfr] [endorsement-needed]",
        "flags": [{"name": "needinfo", "status": "?", "requestee": "bob@example.org", "new": True}],
    }
    assert query_of(call) == {"Bugzilla_api_key": [KEY]}
    assert call.request.headers["Content-Type"] == "application/json"
    assert client.requests_made == {"version": 1, "update": 1}


def test_update_without_whiteboard_or_needinfo_sends_only_the_comment(mocked, client):
    reply(mocked, "PUT", "/bug/8", "put_comment_whiteboard")
    client.update(8, comment="hello", whiteboard=None, needinfo=[])
    (call,) = calls_to(mocked, "PUT", "/bug/8")
    assert json.loads(call.request.body) == {"ids": [8], "comment": {"body": "hello"}}


def test_a_follow_up_clears_flags_by_id_in_the_same_put(mocked, client):
    reply(mocked, "PUT", "/bug/8", "put_comment_whiteboard")
    client.update(
        8, comment="ok", whiteboard="[endorsed]", needinfo=["a@example.org"], clear_flags=[5, 6]
    )
    (call,) = calls_to(mocked, "PUT", "/bug/8")
    assert json.loads(call.request.body) == {
        "ids": [8],
        "comment": {"body": "ok"},
        "whiteboard": "[endorsed]",
        "flags": [
            {"id": 5, "status": "X"},
            {"id": 6, "status": "X"},
            {"name": "needinfo", "status": "?", "requestee": "a@example.org", "new": True},
        ],
    }


def test_a_tag_only_change_has_no_comment(mocked, client):
    reply(mocked, "PUT", "/bug/8", "put_comment_whiteboard")
    client.update(8, comment=None, whiteboard="[endorsement-stale]", needinfo=[])
    (call,) = calls_to(mocked, "PUT", "/bug/8")
    assert json.loads(call.request.body) == {"ids": [8], "whiteboard": "[endorsement-stale]"}


@pytest.mark.parametrize(
    ("name", "code", "status"),
    [
        ("error_unknown_requestee", 51, 404),
        ("error_no_such_bug", 101, 404),
        ("error_bug_not_visible", 102, 401),
        ("error_invalid_whiteboard_permission", 115, 401),
        ("error_bad_api_key", 306, 400),
        ("error_header_key_write", 410, 401),
    ],
)
def test_update_rejections_carry_the_bugzilla_code(mocked, client, name, code, status):
    rec = load_recording(name)
    assert rec["status"] == status
    reply(mocked, "PUT", "/bug/10", name)
    with pytest.raises(BugzillaError) as err:
        client.update(10, comment="x", whiteboard="[x]", needinfo=["ghost@example.org"])
    assert err.value.code == code
    assert err.value.bug_id == 10
    assert err.value.message == rec["response"]["message"]  # without python-bugzilla's suffix
    assert str(err.value) == f"{rec['response']['message']} (Bugzilla error {code})"
    assert err.value.__cause__ is None and err.value.__context__ is None
    assert len(calls_to(mocked, "PUT", "/bug/10")) == 1


@pytest.mark.parametrize("status", [200, 201])
def test_error_body_with_a_success_status_is_an_error(mocked, client, status):
    body = {"error": True, "code": 100500, "message": "internal error", "documentation": ""}
    mocked.put(f"{REST}/bug/10", json=body, status=status)
    with pytest.raises(BugzillaError) as err:
        client.update(10, comment="x", whiteboard=None, needinfo=[])
    assert (err.value.code, err.value.message) == (100500, "internal error")


def test_error_body_on_a_5xx_keeps_its_code_but_html_has_none(mocked, client):
    body = {"error": True, "code": 100500, "message": "internal error", "documentation": ""}
    mocked.put(f"{REST}/bug/10", json=body, status=500)
    mocked.put(f"{REST}/bug/11", body="<html>Bad gateway</html>", status=502)
    with pytest.raises(BugzillaError) as err:
        client.update(10, comment="x", whiteboard=None, needinfo=[])
    assert err.value.code == 100500
    with pytest.raises(BugzillaError) as err:
        client.update(11, comment="x", whiteboard=None, needinfo=[])
    assert err.value.code is None  # no Bugzilla answer: the write may have landed
    assert err.value.http_status == 502


def test_non_json_answer_is_an_error_without_code(mocked, client):
    mocked.get(f"{REST}/time", body="<html>maintenance</html>", status=200)
    with pytest.raises(BugzillaError) as err:
        client._get("/time")
    assert err.value.code is None


def test_connection_and_timeout_errors(mocked, client):
    mocked.put(f"{REST}/bug/10", body=requests.ConnectTimeout("connect timed out"))
    mocked.put(f"{REST}/bug/11", body=requests.ReadTimeout("read timed out"))
    for bug_id in (10, 11):
        with pytest.raises(BugzillaError) as err:
            client.update(bug_id, comment="x", whiteboard=None, needinfo=[])
        assert err.value.code is None and "timed out" in str(err.value)
        assert err.value.bug_id == bug_id


# -- reliability -------------------------------------------------------------------------


def test_a_get_is_retried_after_503(mocked, client):
    mocked.get(f"{REST}/time", status=503, body="busy")
    reply(mocked, "GET", "/time", "time")
    assert client._get("/time")["db_time"] == "2026-11-24T07:50:53Z"
    assert len(calls_to(mocked, "GET", "/time")) == 2


def test_a_get_is_retried_after_429_with_retry_after(mocked, client):
    mocked.get(f"{REST}/time", status=429, body="slow down", headers={"Retry-After": "2"})
    reply(mocked, "GET", "/time", "time")
    client._get("/time")
    assert len(calls_to(mocked, "GET", "/time")) == 2


def test_429_without_retry_after_or_with_a_long_one_is_not_retried(mocked, client):
    """BMO's 429 has no Retry-After and each request restarts an hour-long block."""
    mocked.get(f"{REST}/time", status=429, body="<html>blocked</html>")
    with pytest.raises(BugzillaError) as err:
        client._get("/time")
    assert err.value.http_status == 429 and err.value.code is None
    mocked.get(f"{REST}/user", status=429, body="later", headers={"Retry-After": "3600"})
    with pytest.raises(BugzillaError):
        client.users(names=["alice@example.org"])
    assert len(calls_to(mocked, "GET", "/time")) == 1
    assert len(calls_to(mocked, "GET", "/user")) == 1


def test_retries_run_out(mocked, client):
    mocked.get(f"{REST}/time", status=503, body="busy")
    with pytest.raises(BugzillaError) as err:
        client._get("/time")
    assert err.value.http_status == 503
    assert len(calls_to(mocked, "GET", "/time")) == 4  # 1 + retries=3


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_a_put_is_never_retried(mocked, client, status):
    mocked.put(f"{REST}/bug/9", status=status, body="oops", headers={"Retry-After": "1"})
    reply(mocked, "PUT", "/bug/9", "put_comment_whiteboard_needinfo")
    with pytest.raises(BugzillaError) as err:
        client.update(9, comment="x", whiteboard=None, needinfo=[])
    assert err.value.code is None
    assert len(calls_to(mocked, "PUT", "/bug/9")) == 1


def test_retry_sleeps_honour_retry_after_then_back_off_with_jitter(sleeps):
    retry = make_retry(3, 1.0, sleeps)
    assert isinstance(retry, BotRetry)
    told = HTTPResponse(status=429, headers={"Retry-After": "7"})
    retry.sleep(told)
    assert sleeps == [7.0]
    untold = HTTPResponse(status=503)
    retry = retry.increment("GET", "/x", response=untold).increment("GET", "/x", response=untold)
    retry.sleep(untold)
    assert 2.0 <= sleeps[1] <= 3.0  # backoff 1 * 2**(2-1), plus up to 1 s of jitter
    assert retry.new().sleeper is sleeps  # the injected sleep survives urllib3's copies
    assert retry.is_retry("GET", 503) and not retry.is_retry("PUT", 503)
    assert not retry.is_retry("GET", 429) and retry.is_retry("GET", 429, has_retry_after=True)


def test_every_request_gets_our_timeout(mocked, sleeps):
    client = Client(BASE, KEY, timeout=5.0, requests_per_minute=None, sleep=sleeps)
    reply(mocked, "GET", "/time", "time")
    client._get("/time")
    assert [c.request.req_kwargs["timeout"] for c in mocked.calls] == [5.0, 5.0]


def test_request_budget_sleeps_when_exceeded():
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    budget = RequestBudget(3, clock=lambda: now[0], sleep=sleep)
    for step in (0, 10, 10):
        now[0] += step
        budget.acquire()
    assert slept == []
    now[0] += 5  # 25 s after the first request
    budget.acquire()
    assert slept == [35.0]
    budget.acquire()  # the window now holds 110, 120, 160: wait until 170
    assert slept == [35.0, 10.0]
    assert RequestBudget(None).acquire() == 0.0


def test_client_budget_applies_to_every_request(mocked):
    now = [0.0]
    slept: list[float] = []
    client = Client(
        BASE, KEY, requests_per_minute=2, clock=lambda: now[0], sleep=slept.append
    )  # this sleep does not move the clock: the budget must cope
    reply(mocked, "GET", "/time", "time")
    client._get("/time")  # version + time
    assert slept == []
    now[0] = 15.0
    client._get("/time")
    assert slept == [45.0]


# -- products, users ---------------------------------------------------------------------

# Not recorded: the shape of GET /rest/product from the 5.0 API documentation.
PRODUCT_ANSWER = {
    "products": [
        {
            "id": 2,
            "name": PRODUCT,
            "is_active": True,
            "description": "",
            "components": [
                {"id": 3, "name": "Community IT", "is_active": True, "description": ""},
                {"id": 4, "name": "General", "is_active": False, "description": ""},
            ],
        }
    ]
}


def test_check_products_is_one_request(mocked, client):
    mocked.get(f"{REST}/product", json=PRODUCT_ANSWER)
    assert client.check_products({PRODUCT: ["Community IT"]}) == []
    problems = client.check_products(
        {PRODUCT: ["Community IT", "General", "Comunity IT"], "participation infrastructure": []}
    )
    assert problems == [
        "component 'General' of product 'Participation Infrastructure' is inactive "
        "(closed for new bugs)",
        "unknown component 'Comunity IT' in product 'Participation Infrastructure' "
        "(did you mean 'Community IT'? known: Community IT, General)",
        "unknown product 'participation infrastructure', or not visible to this account "
        "(did you mean 'Participation Infrastructure'?)",
    ]
    calls = calls_to(mocked, "GET", "/product")
    assert len(calls) == 2
    assert query_of(calls[1])["names"] == [PRODUCT, "participation infrastructure"]
    assert client.check_products({}) == []


def test_user_lookup(mocked, client):
    reply(mocked, "GET", "/user", "user_lookup")
    assert client.users(names=["alice@example.org"])[0]["real_name"] == "Alice"


# -- connection, URL, key ----------------------------------------------------------------


@pytest.mark.parametrize(
    "url", [BASE, f"{BASE}/", f"{BASE}/rest", f"{BASE}/rest/", f"{BASE}/rest//"]
)
def test_url_forms_reach_rest(mocked, url, sleeps):
    reply(mocked, "GET", "/time", "time")
    Client(url, KEY, requests_per_minute=None, sleep=sleeps)._get("/time")
    assert [urlsplit(c.request.url).path for c in mocked.calls] == ["/rest/version", "/rest/time"]
    assert rest_url(url) == REST


def test_connecting_is_lazy_and_once(mocked, client):
    assert client.requests_made == {}
    reply(mocked, "GET", "/time", "time")
    client._get("/time")
    client._get("/time")
    assert client.requests_made == {"version": 1, "time": 2}


def test_header_mode_sends_the_key_in_the_header_only(mocked, sleeps):
    client = Client(BASE, KEY, key_in="header", requests_per_minute=None, sleep=sleeps)
    reply(mocked, "GET", "/bug", "search_no_results")
    reply(mocked, "PUT", "/bug/9", "put_comment_whiteboard_needinfo")
    list(client.search_changed(PRODUCT, ["Community IT"], datetime(2026, 1, 1, tzinfo=UTC)))
    client.update(9, comment="x", whiteboard=None, needinfo=["bob@example.org"])
    assert len(mocked.calls) == 3
    for call in mocked.calls:
        assert call.request.headers["X-BUGZILLA-API-KEY"] == KEY
        assert KEY not in call.request.url
        assert "api_key" not in call.request.url.lower()
        assert KEY not in str(call.request.body or "")


def test_query_mode_sends_no_header(mocked, client):
    reply(mocked, "GET", "/time", "time")
    client._get("/time")
    assert all("X-BUGZILLA-API-KEY" not in c.request.headers for c in mocked.calls)


def test_repr_hides_the_key(client):
    assert KEY not in repr(client)
    assert "<set>" in repr(client)


def test_request_kinds():
    assert request_kind("GET", "/rest/version") == "version"
    assert request_kind("GET", "/rest/time") == "time"
    assert request_kind("GET", "/rest/bug") == "search"
    assert request_kind("GET", "/rest/bug/8") == "bug"
    assert request_kind("GET", "/rest/bug/8/comment") == "comments"
    assert request_kind("PUT", "/rest/bug/8") == "update"
    assert request_kind("GET", "/rest/product") == "product"
    assert request_kind("GET", "/rest/user") == "user"
    assert request_kind("GET", "/rest/valid_login") == "user"
    assert request_kind("GET", "/bugzilla/rest/bug") == "search"


# -- redaction ---------------------------------------------------------------------------


def _all_text(caplog: pytest.LogCaptureFixture) -> str:
    parts = [caplog.text]
    for record in caplog.records:
        parts.append(record.getMessage())
        parts.append(record.exc_text or "")
    return "\n".join(parts)


def test_the_key_appears_in_no_log_and_no_error(mocked, caplog):
    caplog.set_level(logging.DEBUG)
    logging.getLogger("urllib3").setLevel(logging.DEBUG)
    client = Client(BASE, KEY, requests_per_minute=None, sleep=lambda s: None)
    reply(mocked, "GET", "/bug", "search_created_since_page2")
    reply(mocked, "PUT", "/bug/9", "put_comment_whiteboard_needinfo")
    reply(mocked, "PUT", "/bug/10", "error_unknown_requestee")
    mocked.put(f"{REST}/bug/11", status=502, body=f"<html>bad gateway for ?api_key={KEY}</html>")
    # bug 12 is not mocked: responses raises a ConnectionError naming the URL with the key

    list(client.search_changed(PRODUCT, ["Community IT"], datetime(2026, 1, 1, tzinfo=UTC)))
    client.update(9, comment="hello", whiteboard="[x]", needinfo=["bob@example.org"])
    errors: list[BugzillaError] = []
    for bug_id in (10, 11, 12):
        with pytest.raises(BugzillaError) as err:
            client.update(bug_id, comment="hello", whiteboard=None, needinfo=[])
        errors.append(err.value)
        logging.getLogger("triagebot.service.poller").error(
            "write of bug %d failed: %s", bug_id, err.value, exc_info=err.value
        )
    # what urllib3 logs at DEBUG (responses bypasses urllib3, so say it the same way)
    logging.getLogger("urllib3.connectionpool").debug(
        '%s://%s:%s "%s %s %s" %s %s',
        "https",
        "bugzilla.example.test",
        443,
        "GET",
        f"/rest/bug?Bugzilla_api_key={KEY}&product=x",
        "HTTP/1.1",
        200,
        10,
    )

    text = _all_text(caplog)
    assert "Bugzilla REST PUT" in text  # python-bugzilla's debug log was captured
    assert '"GET /rest/bug HTTP/1.1"' in text  # the line is kept, without its query string
    assert "Bugzilla_api_key" not in text
    assert KEY not in text
    assert "12" in str(errors[2]) and "connection failed" in str(errors[2])
    for error in errors:
        shown = [str(error), repr(error), *traceback.format_exception(error)]
        assert not any(KEY in s for s in shown), shown
        assert error.__context__ is None


def test_redact_catches_forms_of_the_key():
    install_redaction("k3y/with+chars")
    assert redact("?Bugzilla_api_key=k3y%2Fwith%2Bchars&x=1") == "?Bugzilla_api_key=<redacted>&x=1"
    assert redact("https://h/rest/bug?api_key=unknownkey&product=x") == "https://h/rest/bug"
    assert redact('"GET /rest/bug/1/comment?ids=2&ids=3 HTTP/1.1"') == (
        '"GET /rest/bug/1/comment HTTP/1.1"'  # no query string of a REST path is ever shown
    )
    assert redact("{'X-BUGZILLA-API-KEY': 'abcdef'}") == "{'X-BUGZILLA-API-KEY': '<redacted>'}"
    assert redact("body k3y/with+chars") == "body <redacted>"
    assert BugzillaError("bad k3y/with+chars").message == "bad <redacted>"


def test_a_redirect_is_not_followed(mocked, client):
    """Following it would hand the key (in the URL or the header) to wherever it points."""
    mocked.get(
        f"{REST}/time",
        status=301,
        headers={"Location": "https://elsewhere.example.test/rest/time?x=1"},
    )
    with pytest.raises(BugzillaError) as err:
        client._get("/time")
    assert "https://elsewhere.example.test/rest/time" in str(err.value)
    assert "x=1" not in str(err.value)
    assert [urlsplit(c.request.url).netloc for c in mocked.calls] == [
        "bugzilla.example.test",
        "bugzilla.example.test",
    ]
