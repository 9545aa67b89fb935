"""registry history: the dated timeline of titles (with sources) and who should take over."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from triagebot.commands.cli import main
from triagebot.core.registry import Community, Delegation, Governance, Person, Registry, Resource
from triagebot.tools.history import handovers, render_text, timeline

TODAY = date(2026, 11, 24)
ROOT = Path(__file__).resolve().parents[1]


def _registry() -> Registry:
    people = [Person("ana", "Ana Example"), Person("bob", "Bob Former"), Person("cy", "Cy Next")]
    board = Community(
        slug="board",
        name="Example Board",
        status="active",
        reviewed=date(2026, 6, 1),
        governance=Governance("elected board", term_months=24),
        delegates=(
            Delegation("bob", "President", date(2021, 6, 12), date(2025, 6, 14), "https://m/2021"),
            Delegation("ana", "President", date(2025, 6, 14), None, "https://m/2025"),
            Delegation("cy", "Treasurer", date(2027, 1, 1)),
        ),
        resources=(
            Resource("hosting", "vps.example.org", ("ana",)),
            Resource("domain", "board.example.org", ("bob", "ana")),
        ),
    )
    return Registry.build(people, [board])


def test_timeline_in_date_order_with_sources_handover_and_scheduled_terms():
    registry = _registry()
    lines = [
        (str(e.day), e.describe(), e.source)
        for e in timeline(registry, registry.communities["board"], TODAY)
    ]
    assert lines == [
        ("2021-06-12", "Bob Former became President", "https://m/2021"),
        ("2025-06-14", "Bob Former stopped being President", None),
        ("2025-06-14", "Ana Example became President", "https://m/2025"),
        (
            "2025-06-14",
            "Bob Former still responsible for domain board.example.org with no role any more",
            None,
        ),
        ("2027-01-01", "Cy Next became Treasurer (scheduled)", None),
    ]


def test_handovers_offer_the_current_delegates():
    registry = _registry()
    [h] = handovers(registry, registry.communities["board"], TODAY)
    assert (h.handle, h.index, h.ended, h.candidates) == ("bob", 1, date(2025, 6, 14), ("ana",))
    # On a day Bob still held his term, nothing to hand over.
    assert handovers(registry, registry.communities["board"], date(2024, 1, 1)) == []


def test_text_shows_timeline_holders_and_resources():
    registry = _registry()
    text = render_text(registry, registry.communities["board"], TODAY)
    assert "  2021-06-12  Bob Former became President  [source: https://m/2021]\n" in text
    assert "Now:\n  Ana Example, President, since 2025-06-14\n" in text
    assert "  domain board.example.org: Bob Former (no current role: hand over), Ana Example\n" in (
        text
    )
    assert text.endswith("  could take over: Ana Example\n")


def test_cli_history_of_a_shipped_community_and_an_unknown_one(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TRIAGEBOT_CONFIG", raising=False)
    data = str(ROOT / "data")
    assert main(["registry", "history", "MozFr", "--dir", data]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Mozilla Francophone (mozilla-francophone), active, as of ")
    assert (
        "  2021-06-12  Bastien Morvan became Président  "
        "[source: https://mozfr.example.org/ag/2021-06-12-proces-verbal]\n"
        "  2025-06-14  Bastien Morvan stopped being Président\n"
        "  2025-06-14  Camille Berthelot became Présidente"
    ) in out
    assert main(["registry", "history", "mozilla-nowhere", "--dir", data]) == 1
    assert "mozilla-nowhere" in capsys.readouterr().err
