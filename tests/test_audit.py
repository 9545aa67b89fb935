"""registry audit: each policy in policy.toml, its finding at the right file and line."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from triagebot.commands.cli import main
from triagebot.files.policy import Policy, PolicyError, load_policy
from triagebot.files.validate import load_registry
from triagebot.tools.audit import add_months, audit

TODAY = date(2026, 11, 24)

PEOPLE = """\
[ana]
name = "Ana Example"
emails = ["ana@example.org"]
contacts = [{ kind = "matrix", value = "@ana:example.org", public = true }]

[bob]
name = "Bob Former"
emails = ["bob@example.org"]

[carl]
name = "Carl Admin"
emails = ["carl@example.org"]
"""

# Line numbers matter: the findings point at them.
BOARD = """\
name = "Example Board"
status = "active"
reviewed = {reviewed}
governance = {{ model = "elected board", term_months = 24 }}
contacts = [{{ kind = "email", value = "board@example.org", public = true }}]

[[delegates]]
person = "ana"
title = "President"
since = {ana_since}

[[delegates]]
person = "bob"
title = "President"
since = 2019-01-01
until = 2023-01-01

[[resources]]
kind = "domain"
id = "board.example.org"
responsible = ["carl", "bob"]
"""

QUIET = """\
name = "Quiet Club"
status = "dormant"
reviewed = 2026-10-01
governance = {{ model = "club" }}
contacts = []

[[delegates]]
person = "bob"
title = "Mentor"
since = 2018-01-01
until = 2023-01-01
"""


def write_registry(
    root: Path, *, reviewed: date = date(2026, 9, 1), ana_since: date = date(2025, 6, 1)
) -> Path:
    (root / "communities").mkdir(parents=True)
    (root / "people.toml").write_text(PEOPLE, encoding="utf-8")
    board = BOARD.format(reviewed=reviewed, ana_since=ana_since)
    (root / "communities" / "board.toml").write_text(board, encoding="utf-8")
    (root / "communities" / "quiet.toml").write_text(QUIET.format(), encoding="utf-8")
    return root


def findings(root: Path, policy: str, today: date = TODAY) -> list[str]:
    (root / "policy.toml").write_text(policy, encoding="utf-8")
    registry = load_registry(root, today).registry
    found = audit(registry, root, load_policy(root / "policy.toml"), today)
    return [f"{p.severity}: {p}".replace(str(root) + "/", "") for p in found]


def test_min_delegates_counts_current_people_of_active_communities(tmp_path: Path):
    root = write_registry(tmp_path)
    assert findings(root, "[min_delegates]\ncount = 2\n") == [
        "warning: communities/board.toml:7: delegates: active community with 1 current "
        "delegate(s); the policy asks for at least 2"
    ]
    assert findings(root, "[min_delegates]\ncount = 1\nlevel = 'error'\n") == []


def test_term_longer_than_governance_term_months(tmp_path: Path):
    root = write_registry(tmp_path, ana_since=date(2024, 1, 10))
    assert findings(root, "[term_length]\nlevel = 'error'\n") == [
        "error: communities/board.toml:10: delegates[0]: Ana Example's term as President has "
        "lasted 34 months, longer than governance.term_months = 24: record the renewal "
        "(a new term) or the end"
    ]
    # Bob's ended term (48 months) is history, not something to fix.
    assert findings(root, "[term_length]\ngrace_months = 12\n") == []


def test_a_title_held_without_a_term_is_exempt(tmp_path: Path):
    """A club's mentor stays while its captains change each year: the policy names the
    titles that have no term (case aside), and only those escape the check."""
    root = write_registry(tmp_path, ana_since=date(2024, 1, 10))
    assert findings(root, "[term_length]\nexempt_titles = ['president']\n") == []
    assert len(findings(root, "[term_length]\nexempt_titles = ['Treasurer']\n")) == 1


def test_review_older_than_the_policy_allows(tmp_path: Path):
    root = write_registry(tmp_path, reviewed=date(2025, 10, 1))
    assert findings(root, "[review]\nmax_age_months = 12\n") == [
        "warning: communities/board.toml:3: reviewed: last reviewed 2025-10-01, more than 12 "
        "months ago: confirm the file with the community and bump the date"
    ]
    assert findings(root, "[review]\nmax_age_months = 14\n") == []


def test_handover_names_the_former_delegate_and_who_could_take_over(tmp_path: Path):
    root = write_registry(tmp_path)
    assert findings(root, "[handover]\n") == [
        "error: communities/board.toml:21: resources[0].responsible: domain board.example.org: "
        "Bob Former (bob) holds no role in the community since 2023-01-01; could take over: "
        "Ana Example (ana)"
    ]
    # Carl never held a role (an admin from Community IT, say): not a handover.


def test_public_contact_by_status_and_optionally_through_delegates(tmp_path: Path):
    root = write_registry(tmp_path)
    assert findings(root, "[public_contact]\n") == [
        "warning: communities/quiet.toml:5: contacts: dormant community with no public "
        "contact: nobody can be pointed to it"
    ]
    assert findings(root, "[public_contact]\nstatuses = ['active']\n") == []


def test_no_policy_no_finding(tmp_path: Path):
    root = write_registry(tmp_path)
    assert findings(root, "") == []
    assert load_policy(tmp_path / "absent.toml") == Policy()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[review]\nmax_age_month = 12\n", "policy.toml:2: review.max_age_month: unknown key"),
        (
            "[handover]\nlevel = 'fatal'\n",
            "policy.toml:2: handover.level: expected one of 'error', 'warning', got string 'fatal'",
        ),
        ("[reveiw]\n", "policy.toml:1: reveiw: unknown key"),
        ("[review\n", "policy.toml:1: "),
    ],
)
def test_a_broken_policy_file_names_file_line_and_field(tmp_path: Path, text: str, expected: str):
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert str(caught.value.problems[0]).replace(str(tmp_path) + "/", "").startswith(expected)


def test_add_months_clamps_to_the_end_of_the_month():
    assert add_months(date(2025, 1, 31), 1) == date(2025, 2, 28)
    assert add_months(date(2024, 11, 30), 15) == date(2026, 2, 28)


def test_cli_prints_one_line_per_finding_and_exits_1_on_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TRIAGEBOT_CONFIG", raising=False)
    root = write_registry(tmp_path / "data", reviewed=date.today() - timedelta(days=500))
    (root / "policy.toml").write_text("[review]\n[handover]\nlevel = 'warning'\n")
    assert main(["registry", "audit", str(root)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"warning: {root}/communities/board.toml:3: reviewed: last reviewed")
    assert out[1].startswith(f"warning: {root}/communities/board.toml:21: resources[0]")
    assert out[2] == (
        f"audit: 0 error(s), 2 warning(s); checked review, handover from {root}/policy.toml"
    )
    (root / "policy.toml").write_text("[review]\nlevel = 'error'\n")
    assert main(["registry", "audit", str(root)]) == 1
    (root / "policy.toml").write_text("[review]\nlevle = 'error'\n")
    assert main(["registry", "audit", str(root)]) == 2
    assert f"error: {root}/policy.toml:2: review.levle: unknown key" in capsys.readouterr().err


def test_shipped_policy_and_data_audit_without_errors(capsys: pytest.CaptureFixture[str]):
    data = Path(__file__).resolve().parents[1] / "data"
    registry = load_registry(data, TODAY).registry
    found = audit(registry, data, load_policy(data / "policy.toml"), TODAY)
    assert [p for p in found if p.severity == "error"] == []


def test_the_shipped_policy_does_not_flag_nairobis_mentor():
    """Nairobi's captains serve a year (term_months = 12); its Reps mentor has no term."""
    data = Path(__file__).resolve().parents[1] / "data"
    registry = load_registry(data, TODAY).registry
    found = audit(registry, data, load_policy(data / "policy.toml"), TODAY)
    assert [str(p) for p in found if "mentor" in str(p)] == []
    assert [p.field for p in found if p.file.endswith("nairobi.toml")] == []
