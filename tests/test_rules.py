"""Loading rules/: the shipped rule, and every problem reported as `file:line: field: message`."""

from __future__ import annotations

from pathlib import Path

import pytest
from jinja2.exceptions import SecurityError

from triagebot.core import followup, triage
from triagebot.core.rule import tidy
from triagebot.files.rules import (
    OutcomeAction,
    Rule,
    RulesError,
    load_rules,
    template_environment,
)

SHIPPED = Path(__file__).resolve().parents[1] / "rules"

# Line numbers the expected messages rely on: 1 product, 2 components, 3 directory_url,
# 4 needinfo_cap, 6 [outcomes.endorsed], 7-9 its keys, 11 [outcomes.former-delegate],
# 16 [outcomes.needs-endorsement], 20 [outcomes.unknown], 21-23 its keys, 25 [outcomes.ambiguous].
VALID = """\
product = "P"
components = ["C"]
directory_url = "https://dir.example.org/"
needinfo_cap = 2

[outcomes.endorsed]
template = "t.md.j2"
whiteboard = ["[community:{community}]", "[endorsed]"]
needinfo = "nobody"

[outcomes.former-delegate]
template = "t.md.j2"
whiteboard = ["[community:{community}]"]
needinfo = "delegates"

[outcomes.needs-endorsement]
template = "t.md.j2"
needinfo = "delegates"

[outcomes.unknown]
template = "t.md.j2"
whiteboard = ["[endorsement-needed]"]
needinfo = "reporter"

[outcomes.ambiguous]
template = "t.md.j2"
needinfo = "reporter"
"""
TEMPLATE = "{{ outcome }} ({{ rule }})\n"


def write_rules(
    root: Path, rules: dict[str, str] | None = None, templates: dict[str, str] | None = None
) -> Path:
    (root / "templates").mkdir(parents=True, exist_ok=True)
    for name, text in (rules if rules is not None else {"r": VALID}).items():
        (root / f"{name}.toml").write_text(text, encoding="utf-8")
    for name, text in (templates if templates is not None else {"t.md.j2": TEMPLATE}).items():
        (root / "templates" / name).write_text(text, encoding="utf-8")
    return root


def problems(root: Path) -> list[str]:
    with pytest.raises(RulesError) as caught:
        load_rules(root)
    assert str(caught.value) == "\n".join(str(p) for p in caught.value.problems)
    return [str(p).replace(f"{root}/", "") for p in caught.value.problems]


# -- the shipped rule ------------------------------------------------------------------------------
def test_shipped_rules_load() -> None:
    (rule,) = load_rules(SHIPPED)
    assert rule.name == "community-it"
    assert rule.product == "Participation Infrastructure"
    assert rule.components == ("Community IT",)
    assert rule.directory_url == "https://community.example.org/directory"
    assert rule.needinfo_cap == 2
    assert rule.outcomes == {
        "endorsed": OutcomeAction(
            "endorsed.md.j2", ("[community:{community}]", "[endorsed]"), "nobody"
        ),
        "former-delegate": OutcomeAction(
            "former-delegate.md.j2",
            ("[community:{community}]", "[endorsement-needed]"),
            "delegates",
        ),
        "needs-endorsement": OutcomeAction(
            "needs-endorsement.md.j2",
            ("[community:{community}]", "[endorsement-needed]"),
            "delegates",
        ),
        "unknown": OutcomeAction("unknown.md.j2", ("[endorsement-needed]",), "reporter"),
        "ambiguous": OutcomeAction("ambiguous.md.j2", ("[endorsement-needed]",), "reporter"),
    }
    assert rule.followup is not None
    assert (
        rule.followup.commands,
        rule.followup.retriage,
        rule.followup.stale_after_days,
        rule.followup.remind,
    ) == (("endorse", "decline"), True, 14, True)
    assert set(rule.followup.templates) == set(followup.KINDS)


def test_a_single_file_loads_with_templates_beside_it() -> None:
    (rule,) = load_rules(SHIPPED / "community-it.toml")
    assert rule.watches("Participation Infrastructure", "Community IT")
    assert not rule.watches("Participation Infrastructure", "Other")


def test_minimal_rule_loads_and_renders(tmp_path: Path) -> None:
    (rule,) = load_rules(write_rules(tmp_path))
    assert rule.name == "r"
    assert rule.render("unknown", {"outcome": "unknown", "rule": "r"}) == "unknown (r)"


def test_defaults(tmp_path: Path) -> None:
    text = VALID.replace('directory_url = "https://dir.example.org/"\n', "").replace(
        "needinfo_cap = 2\n", ""
    )
    (rule,) = load_rules(write_rules(tmp_path, {"r": text}))
    assert (rule.directory_url, rule.needinfo_cap) == (None, 2)
    assert rule.outcomes["needs-endorsement"].whiteboard == ()


# -- malformed rules: exact file:line: field: message -------------------------------------------
ENDORSED_TEMPLATE = 'template = "t.md.j2"\nwhiteboard = ["[community:'
MALFORMED = [
    pytest.param(
        ("components = ", "componets = "),
        [
            "r.toml:1: components: required key is missing",
            "r.toml:2: componets: unknown key; did you mean 'components'?",
        ],
        id="unknown-top-level-key",
    ),
    pytest.param(
        ('product = "P"', "product = 3"),
        ["r.toml:1: product: expected a string, got integer 3"],
        id="product-type",
    ),
    pytest.param(
        ('components = ["C"]', "components = []"),
        ["r.toml:2: components: must list at least one component"],
        id="no-components",
    ),
    pytest.param(
        ('components = ["C"]', 'components = ["C", "D", "C"]'),
        ["r.toml:2: components[2]: 'C' is listed twice (also components[0])"],
        id="duplicate-component",
    ),
    pytest.param(
        ('"https://dir.example.org/"', '"ftp://dir.example.org/"'),
        ["r.toml:3: directory_url: expected an http(s) URL, got string 'ftp://dir.example.org/'"],
        id="directory-url",
    ),
    pytest.param(
        ("needinfo_cap = 2", "needinfo_cap = 11"),
        ["r.toml:4: needinfo_cap: expected a whole number from 0 to 10, got integer 11"],
        id="cap-too-high",
    ),
    pytest.param(
        ("needinfo_cap = 2", "needinfo_cap = true"),
        ["r.toml:4: needinfo_cap: expected a whole number from 0 to 10, got boolean true"],
        id="cap-boolean",
    ),
    pytest.param(
        ('[outcomes.ambiguous]\ntemplate = "t.md.j2"\nneedinfo = "reporter"\n', ""),
        [
            "r.toml:6: outcomes.ambiguous: missing outcome 'ambiguous'; "
            "add an [outcomes.ambiguous] table"
        ],
        id="missing-outcome",
    ),
    pytest.param(
        ("[outcomes.endorsed]", "[outcomes.endorse]"),
        [
            "r.toml:6: outcomes.endorse: unknown key; did you mean 'endorsed'?",
            "r.toml:6: outcomes.endorsed: missing outcome 'endorsed'; "
            "add an [outcomes.endorsed] table",
        ],
        id="misspelt-outcome",
    ),
    pytest.param(
        (ENDORSED_TEMPLATE, ENDORSED_TEMPLATE.replace("template", "tempalte")),
        [
            "r.toml:6: outcomes.endorsed.template: required key is missing",
            "r.toml:7: outcomes.endorsed.tempalte: unknown key; did you mean 'template'?",
        ],
        id="misspelt-outcome-key",
    ),
    pytest.param(
        ('"[community:{community}]", "[endorsed]"', '"[community:{slug}]", "[endorsed]"'),
        [
            "r.toml:8: outcomes.endorsed.whiteboard[0]: unknown placeholder '{slug}'; "
            "only '{community}' is allowed"
        ],
        id="unknown-placeholder",
    ),
    pytest.param(
        ('"[community:{community}]", "[endorsed]"', '"[community:{community.__class__}]"'),
        [
            "r.toml:8: outcomes.endorsed.whiteboard[0]: unknown placeholder "
            "'{community.__class__}'; only '{community}' is allowed"
        ],
        id="placeholder-attribute",
    ),
    pytest.param(
        ('["[endorsement-needed]"]', '["[endorsement-needed]", "[for:{community}]"]'),
        [
            "r.toml:22: outcomes.unknown.whiteboard[1]: '{community}' is empty for outcome "
            "'unknown': there is no community"
        ],
        id="placeholder-without-community",
    ),
    pytest.param(
        ('"[community:{community}]", "[endorsed]"', '"[community:{community]", "[endorsed] x"'),
        [
            "r.toml:8: outcomes.endorsed.whiteboard[0]: expected '}' before end of string; "
            "write {{ and }} for literal braces",
            "r.toml:8: outcomes.endorsed.whiteboard[1]: a whiteboard tag must not contain "
            "spaces; list each tag separately",
        ],
        id="bad-tags",
    ),
    pytest.param(
        ('needinfo = "nobody"', 'needinfo = "delegate"'),
        [
            "r.toml:9: outcomes.endorsed.needinfo: expected one of 'delegates', 'reporter', "
            "'nobody', got string 'delegate'; did you mean 'delegates'?"
        ],
        id="needinfo-choice",
    ),
    pytest.param(
        ('whiteboard = ["[endorsement-needed]"]\nneedinfo = "reporter"', 'needinfo = "delegates"'),
        [
            "r.toml:22: outcomes.unknown.needinfo: 'delegates' needs a community, and outcome "
            "'unknown' has none; use 'reporter' or 'nobody'"
        ],
        id="needinfo-delegates-without-community",
    ),
    pytest.param(
        (ENDORSED_TEMPLATE, ENDORSED_TEMPLATE.replace("t.md.j2", "tt.md.j2")),
        [
            "r.toml:7: outcomes.endorsed.template: no template 'tt.md.j2' in templates; "
            "did you mean 't.md.j2'?"
        ],
        id="missing-template",
    ),
    pytest.param(
        ("needinfo_cap = 2", "needinfo_cap = "),
        [
            "r.toml:4: invalid TOML: string values must be quoted, expected literal string "
            "(column 16)"
        ],
        id="toml-syntax",
    ),
]


@pytest.mark.parametrize(("edit", "expected"), MALFORMED)
def test_malformed_rule(tmp_path: Path, edit: tuple[str, str], expected: list[str]) -> None:
    old, new = edit
    assert old in VALID
    root = write_rules(tmp_path, {"r": VALID.replace(old, new, 1)})
    assert problems(root) == expected


def test_every_problem_at_once_in_line_order(tmp_path: Path) -> None:
    text = (
        VALID.replace('product = "P"', 'product = ""')
        .replace("needinfo_cap = 2", "needinfo_cap = -1\ncolour = 1")
        .replace('needinfo = "reporter"\n', "", 1)
    )
    assert problems(write_rules(tmp_path, {"r": text})) == [
        "r.toml:1: product: must not be empty",
        "r.toml:4: needinfo_cap: expected a whole number from 0 to 10, got integer -1",
        "r.toml:5: colour: unknown key; expected product, components, directory_url, "
        "needinfo_cap, outcomes, followup",
        "r.toml:21: outcomes.unknown.needinfo: required key is missing; "
        "expected one of delegates, reporter, nobody",
    ]


def test_problems_in_several_files(tmp_path: Path) -> None:
    root = write_rules(tmp_path, {"a": VALID, "b": VALID, "Bad Name": VALID})
    assert problems(root) == [
        "Bad Name.toml:1: file name 'Bad Name' is not a valid rule name (lowercase letters, "
        "digits and '-', starting with a letter or digit)",
        "b.toml:2: components: P :: C is already watched by rule 'a'",
    ]


def test_outcomes_missing_entirely(tmp_path: Path) -> None:
    text = VALID.split("[outcomes.endorsed]")[0]
    assert problems(write_rules(tmp_path, {"r": text})) == [
        "r.toml:1: outcomes: required key is missing; add an [outcomes.NAME] table for "
        "endorsed, former-delegate, needs-endorsement, unknown, ambiguous"
    ]


def test_empty_directory(tmp_path: Path) -> None:
    assert problems(write_rules(tmp_path, {})) == [
        f"{tmp_path}:1: no rule files (*.toml) in this directory"
    ]


# -- templates -----------------------------------------------------------------------------------
def test_jinja_syntax_error_at_its_line(tmp_path: Path) -> None:
    root = write_rules(tmp_path, templates={"t.md.j2": "Hello\n\n{% if %}\n{% endif %}\n"})
    assert problems(root) == [
        "templates/t.md.j2:3: template: Expected an expression, got 'end of statement block'"
    ]


def test_unclosed_block_reported(tmp_path: Path) -> None:
    root = write_rules(tmp_path, templates={"t.md.j2": "{% for c in communities %}\n{{ c }}\n"})
    (problem,) = problems(root)
    assert problem.startswith("templates/t.md.j2:2: template: Unexpected end of template.")


def test_misspelt_variable_reported_with_suggestion(tmp_path: Path) -> None:
    root = write_rules(tmp_path, templates={"t.md.j2": "{{ outcome }}\n{{ comunity.name }}\n"})
    assert problems(root) == [
        "templates/t.md.j2:2: template: unknown variable 'comunity'; did you mean 'community'?"
    ]


def test_misspelt_key_caught_by_the_sample_render(tmp_path: Path) -> None:
    root = write_rules(tmp_path, templates={"t.md.j2": "{{ outcome }}\n\n{{ reporter.nmae }}\n"})
    assert problems(root) == [
        "templates/t.md.j2:3: template: 'dict object' has no attribute 'nmae' "
        "(rendering a sample 'endorsed' comment)"
    ]


def test_included_template_error_placed_in_the_partial(tmp_path: Path) -> None:
    templates = {"t.md.j2": '{% include "_p.md.j2" %}\n', "_p.md.j2": "ok\n{{ community.nope }}\n"}
    assert problems(write_rules(tmp_path, templates=templates)) == [
        "templates/_p.md.j2:2: template: 'dict object' has no attribute 'nope' "
        "(rendering a sample 'endorsed' comment)"
    ]


def test_sandbox_rejects_attribute_tricks_at_load(tmp_path: Path) -> None:
    root = write_rules(tmp_path, templates={"t.md.j2": "{{ ''.__class__.__mro__ }}\n"})
    assert problems(root) == [
        "templates/t.md.j2:1: template: access to attribute '__class__' of 'str' object is "
        "unsafe. (rendering a sample 'endorsed' comment)"
    ]


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ reporter.__class__ }}",
        "{{ reporter.items.__self__.__class__ }}",
        "{{ communities.__class__.__base__.__subclasses__() }}",
    ],
)
def test_sandbox_blocks_attribute_tricks_at_render(source: str) -> None:
    env = template_environment({"x": (source, "x")})
    rule = Rule("r", Path("r.toml"), "P", ("C",), None, 2, {}, {"unknown": env.get_template("x")})
    context = triage.sample_context("unknown", "reporter", "r", None)
    with pytest.raises(SecurityError):
        rule.render("unknown", context)


def test_context_cannot_be_mutated() -> None:
    env = template_environment({"x": ("{{ reporter.update({'name': 'x'}) }}", "x")})
    with pytest.raises(SecurityError):
        env.get_template("x").render({"reporter": {"name": "a"}})


def test_templates_compiled_once(tmp_path: Path) -> None:
    (rule,) = load_rules(write_rules(tmp_path))
    template = rule.templates["endorsed"]
    (tmp_path / "templates" / "t.md.j2").write_text("changed {{ nope }}")
    context = {"outcome": "endorsed", "rule": "r"}
    assert rule.render("endorsed", context) == "endorsed (r)"
    assert rule.templates["endorsed"] is template


def test_no_html_escaping(tmp_path: Path) -> None:
    root = write_rules(tmp_path, templates={"t.md.j2": "{{ summary }}"})
    (rule,) = load_rules(root)
    assert rule.render("unknown", {"summary": "<b> & 'q'"}) == "<b> & 'q'"


def test_tidy() -> None:
    assert tidy("\n\na  \n\n\n\nb\t\n\n") == "a\n\nb"


# -- [followup] ----------------------------------------------------------------------------------
FOLLOWUP_TEMPLATES = {f"{kind}.md.j2": f"{kind}\n" for kind in followup.KINDS}


def test_no_followup_table_no_followup(tmp_path: Path) -> None:
    (rule,) = load_rules(write_rules(tmp_path))
    assert rule.followup is None


def test_followup_defaults(tmp_path: Path) -> None:
    templates = {"t.md.j2": TEMPLATE, **FOLLOWUP_TEMPLATES}
    (rule,) = load_rules(write_rules(tmp_path, {"r": VALID + "\n[followup]\n"}, templates))
    assert rule.followup is not None
    assert (rule.followup.commands, rule.followup.stale_after_days, rule.followup.remind) == (
        ("endorse", "decline"),
        14,
        False,
    )
    assert rule.render_followup("reminder", {}) == "reminder"


def test_followup_problems_at_their_lines(tmp_path: Path) -> None:
    text = VALID + (
        "\n[followup]\n"  # line 29
        'commands = ["endorse", "approve"]\n'
        "stale_after_days = 0\n"
        'remind = "yes"\n'
        "remnid = true\n"
        "[followup.templates]\n"
        'reminder = "remind.md.j2"\n'
    )
    templates = {"t.md.j2": TEMPLATE, "reminder.md.j2": "x\n"}
    assert problems(write_rules(tmp_path, {"r": text}, templates)) == [
        "r.toml:29: followup: no template 'confirmation.md.j2' in "
        "templates (templates.confirmation)",
        "r.toml:29: followup: no template 'decline.md.j2' in templates (templates.decline)",
        "r.toml:29: followup: no template 'who-can-endorse.md.j2' in "
        "templates (templates.who-can-endorse)",
        "r.toml:29: followup: no template 'retriage.md.j2' in templates (templates.retriage)",
        "r.toml:30: followup.commands[1]: expected one of 'endorse', 'decline', "
        "got string 'approve'",
        "r.toml:31: followup.stale_after_days: expected a whole number of days from 1 to 365, "
        "got integer 0",
        "r.toml:32: followup.remind: expected true or false, got string 'yes'",
        "r.toml:33: followup.remnid: unknown key; did you mean 'remind'?",
        "r.toml:35: followup.templates.reminder: no template 'remind.md.j2' in "
        "templates; did you mean 'reminder.md.j2'?",
    ]


def test_followup_template_checked_with_its_sample(tmp_path: Path) -> None:
    templates = {
        "t.md.j2": TEMPLATE,
        **FOLLOWUP_TEMPLATES,
        "decline.md.j2": "Declined by {{ decider.nmae }}\n",
    }
    root = write_rules(tmp_path, {"r": VALID + "\n[followup]\n"}, templates)
    assert problems(root) == [
        "templates/decline.md.j2:1: template: 'dict object' has no attribute 'nmae' "
        "(rendering a sample 'decline' comment)"
    ]
