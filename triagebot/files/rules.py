"""Rules: which bugs the bot watches and what it does per outcome, checked like source code.

One TOML file per rule under `rules/` (the rule's name is the file's stem), with its comment
templates under `rules/templates/`. Maintainers edit these by hand, so loading reports every
problem at once as `FILE:LINE: field.path: message`, the way a compiler does, and refuses to
start on any of them: a typo found at start-up is better than a wrong comment on a live bug.
The file's format is declared once, as pydantic models (`RuleFile`); what needs the
templates or the outcome is checked by hand.

Templates are compiled once, at load, and rendered with a sample context of their outcome
(built by the same code as real contexts, see `triage.sample_context`), so a misspelt variable
or a blocked attribute is a load error, not a crash on the first matching bug.
"""

from __future__ import annotations

import re
import string
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from jinja2 import FunctionLoader, StrictUndefined, Template, TemplateError, meta, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment
from pydantic import AfterValidator, Field, create_model

from triagebot.core import followup, markup, triage
from triagebot.core.bugs import OUTCOMES
from triagebot.core.registry import Text
from triagebot.core.rule import (  # the loaded form, re-exported for callers of load_rules
    COMMANDS,
    DEFAULT_STALE_AFTER_DAYS,
    Followup,
    OutcomeAction,
    Rule,
)
from triagebot.core.says import Say, did_you_mean, invalid
from triagebot.files.problems import (
    FieldPath,
    Problem,
    ProblemError,
    Table,
    TomlFile,
    describe,
)

TEMPLATES_DIR = "templates"
TEMPLATE_SUFFIX = ".j2"
NEEDINFO_MODES = ("delegates", "reporter", "nobody")
NO_COMMUNITY = ("unknown", "ambiguous")  # outcomes with no single community to name
DEFAULT_NEEDINFO_CAP = 2
MAX_NEEDINFO_CAP = 10  # more pings than this on one bug is noise, whatever the rule says
PLACEHOLDER = "community"

MAX_STALE_AFTER_DAYS = 365
_NAME_RE = re.compile(r"[a-z0-9][a-z0-9-]*")

RulesError = ProblemError  # the rules have problems; `problems` lists every one


def load_rules(path: str | Path) -> list[Rule]:
    """Every rule in directory `path` (templates in `path`/templates), or in the one file
    `path` (templates beside it); RulesError lists every problem, by file and line."""
    loader = _Loader(Path(path))
    rules = loader.run()
    if loader.problems:
        raise RulesError(sorted(loader.problems, key=lambda p: (p.file, p.line)))
    return rules


def template_environment(sources: Mapping[str, tuple[str, str]]) -> ImmutableSandboxedEnvironment:
    """The sandbox templates run in: `sources` maps a template name to (text, shown path).

    Immutable sandbox: no unsafe attributes (`__class__`...) and no mutating the context.
    StrictUndefined: a misspelt name fails instead of printing nothing. No autoescape:
    Bugzilla comments are plain text. Everything is read before, so rendering does no I/O."""

    def source(name: str) -> tuple[str, str, Any] | None:
        found = sources.get(name)
        return (found[0], found[1], lambda: True) if found else None

    env = ImmutableSandboxedEnvironment(
        loader=FunctionLoader(source),
        undefined=StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
        cache_size=-1,
    )
    env.filters["code"] = markup.code  # `{{ login | code }}`: shown exactly (markup.py)
    return env


# -- loading ---------------------------------------------------------------------------------------
class _Loader:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.problems: list[Problem] = []
        self.templates_dir = (path if path.is_dir() else path.parent) / TEMPLATES_DIR
        self.template_names: list[str] = []
        self.shown_templates: set[str] = set()
        self.compiled: dict[str, Template] = {}
        self.sources: dict[str, TomlFile] = {}  # rule name -> its file
        self.flagged: set[str] = set()  # templates with a problem reported already

    def problem(self, file: str, line: int, field_: str, message: str) -> None:
        self.problems.append(Problem(file, line, field_, message))

    def error(self, source: TomlFile, path: FieldPath, message: str) -> None:
        self.problems.append(source.problem(path, message))

    def run(self) -> list[Rule]:
        files = self._rule_files()
        self._load_templates()
        rules = [rule for file in files if (rule := self._load_file(file)) is not None]
        self._check_overlaps(rules)
        for rule in rules:
            self._check_render(rule)
        return rules

    def _rule_files(self) -> list[Path]:
        if self.path.is_file():
            return [self.path]
        if not self.path.is_dir():
            self.problem(str(self.path), 0, "", "no such rules file or directory")
            return []
        files = sorted(self.path.glob("*.toml"))
        if not files:
            self.problem(str(self.path), 1, "", "no rule files (*.toml) in this directory")
        return files

    # templates
    def _load_templates(self) -> None:
        """Read and compile every template once; report syntax errors at their line."""
        if not self.templates_dir.is_dir():
            return
        sources: dict[str, tuple[str, str]] = {}
        for file in sorted(self.templates_dir.rglob(f"*{TEMPLATE_SUFFIX}")):
            if (text := self._read(file, "template")) is not None:
                sources[file.relative_to(self.templates_dir).as_posix()] = (text, str(file))
        self.template_names = sorted(sources)
        self.shown_templates = {shown for _, shown in sources.values()}
        env = template_environment(sources)
        known = set(triage.sample_context("unknown", "nobody", "x", None)) | set(env.globals)
        for kind in followup.KINDS:
            known |= set(followup.sample_context(kind, "x", None))
        for name, (text, shown) in sources.items():
            try:
                self.compiled[name] = env.get_template(name)
            except TemplateError as exc:
                line = getattr(exc, "lineno", None) or 1
                self.problem(shown, line, "template", getattr(exc, "message", None) or str(exc))
                continue
            # Top-level names the context does not provide, each at its first use.
            tree = env.parse(text)
            if unknown := meta.find_undeclared_variables(tree) - known:
                self.flagged.add(name)
                first: dict[str, int] = {}
                for node in tree.find_all(nodes.Name):
                    first.setdefault(node.name, node.lineno)
                for variable in sorted(unknown, key=lambda n: (first.get(n, 1), n)):
                    hint = did_you_mean(variable, sorted(known))
                    message = f"unknown variable '{variable}'{hint}"
                    self.problem(shown, first.get(variable, 1), "template", message)

    def _read(self, file: Path, field_: str) -> str | None:
        """A template's or rule file's text, or None once why it cannot be read is reported."""
        try:
            return file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self.problem(str(file), 1, field_, f"cannot read: {exc}")
            return None

    # rule files
    def _load_file(self, file: Path) -> Rule | None:
        if (text := self._read(file, "")) is None:
            return None
        source = TomlFile(str(file), text)
        self.sources[file.stem] = source
        raw = source.parse()
        if raw is None:
            self.problems.extend(source.problems())
            return None
        return _RuleChecker(self, source, file).check(raw)

    def _check_overlaps(self, rules: list[Rule]) -> None:
        """Two rules on one component would each comment on every bug in it."""
        owner: dict[tuple[str, str], str] = {}
        for rule in rules:
            for component in rule.components:
                other = owner.setdefault((rule.product, component), rule.name)
                if other != rule.name:
                    message = f"{rule.product} :: {component} is already watched by rule '{other}'"
                    self.error(self.sources[rule.name], ("components",), message)

    def _check_render(self, rule: Rule) -> None:
        """Render each template with a sample context: what compiles may still misspell a
        key, or reach for an attribute the sandbox blocks. One report per template."""
        url = rule.directory_url
        for outcome, action in rule.outcomes.items():
            context = triage.sample_context(outcome, action.needinfo, rule.name, url)
            self._sample(outcome, action.template, rule.templates[outcome], context)
        if settings := rule.followup:
            for kind, template in settings.templates.items():
                context = followup.sample_context(kind, rule.name, url)
                self._sample(kind, settings.template_names[kind], template, context)

    def _sample(self, kind: str, name: str, template: Template, context: dict[str, Any]) -> None:
        if name in self.flagged:
            return
        try:
            template.render(context)
        except Exception as exc:
            self.flagged.add(name)
            file, line = _render_position(exc, self.shown_templates, template.filename or name)
            self.problem(file, line, "template", f"{exc} (rendering a sample '{kind}' comment)")


def _render_position(exc: BaseException, templates: set[str], default: str) -> tuple[str, int]:
    """The template file and line an exception was raised at, an included one perhaps: Jinja
    rewrites tracebacks so that template frames carry the template's file name and line."""
    found = (default, 1)
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        if frame.f_code.co_filename in templates:
            found = (frame.f_code.co_filename, lineno)
    return found


# -- the rule file's format ---------------------------------------------------------------------
def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise invalid(f"expected an http(s) URL, got {describe(value)}")
    return value


def _named(
    names: tuple[str, ...], field_type: Any, say: Callable[[str], Say], **default: Any
) -> dict[str, Any]:
    """Fields named like TOML keys ('former-delegate'), each under a Python name."""
    return {
        n.replace("-", "_"): (Annotated[field_type, say(n)], Field(alias=n, **default))
        for n in names
    }


class OutcomeTable(Table):
    """What the rule does for one outcome."""

    template: Text = Field(description="a file in templates/: the comment posted")
    whiteboard: list[Text] = Field(
        default_factory=list, description="tags to add; '{community}' is the community's slug"
    )
    needinfo: Annotated[
        Literal[*NEEDINFO_MODES],  # type: ignore[valid-type]
        Say(missing="required key is missing; expected one of " + ", ".join(NEEDINFO_MODES)),
    ] = Field(description="whom to ask: the community's delegates, the reporter, or nobody")


def _outcome_say(name: str) -> Say:
    return Say(missing=f"missing outcome '{name}'; add an [outcomes.{name}] table")


Outcomes = create_model("Outcomes", __base__=Table, **_named(OUTCOMES, OutcomeTable, _outcome_say))
FollowupTemplates = create_model(
    "FollowupTemplates",
    __base__=Table,
    **_named(followup.KINDS, Text | None, lambda n: Say(), default=None),
)
_ALL_OUTCOMES = ", ".join(OUTCOMES)


class FollowupTable(Table):
    """What the rule does after its first comment."""

    commands: list[Literal[*COMMANDS]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: list(COMMANDS),
        description="which of /endorse and /decline a current delegate may use",
    )
    retriage: bool = Field(True, description="the reporter's answer re-decides the bug")
    stale_after_days: Annotated[
        int,
        Field(ge=1, le=MAX_STALE_AFTER_DAYS),
        Say(f"a whole number of days from 1 to {MAX_STALE_AFTER_DAYS}"),
    ] = DEFAULT_STALE_AFTER_DAYS
    remind: bool = Field(False, description="post one reminder when the bug turns stale")
    templates: FollowupTemplates = Field(  # type: ignore[valid-type]
        default_factory=FollowupTemplates, description="template per kind (default KIND.md.j2)"
    )


class RuleFile(Table):
    """rules/NAME.toml: which bugs a rule watches and what it does per outcome."""

    product: Text
    components: Annotated[
        list[Text], Field(min_length=1), Say(too_short="must list at least one component")
    ]
    directory_url: Annotated[str, AfterValidator(_http_url), Say("an http(s) URL")] | None = None
    needinfo_cap: Annotated[
        int,
        Field(ge=0, le=MAX_NEEDINFO_CAP),
        Say(f"a whole number from 0 to {MAX_NEEDINFO_CAP}"),
    ] = DEFAULT_NEEDINFO_CAP
    outcomes: Annotated[
        Outcomes,  # type: ignore[valid-type]
        Say(missing="required key is missing; add an [outcomes.NAME] table for " + _ALL_OUTCOMES),
    ]
    followup: FollowupTable | None = None


class _RuleChecker:
    """Checks one parsed rule file against RuleFile, then by hand what the model cannot
    know: templates that exist, tags and needinfo that make sense for their outcome,
    components listed twice. Those checks run on whatever parts are valid."""

    def __init__(self, loader: _Loader, source: TomlFile, file: Path) -> None:
        self.loader = loader
        self.source = source
        self.file = file
        self.failed = False

    def error(self, path: FieldPath, message: str) -> None:
        self.failed = True
        self.loader.error(self.source, path, message)

    def check(self, raw: dict[str, Any]) -> Rule | None:
        name = self.file.stem
        if not _NAME_RE.fullmatch(name):
            message = (
                f"file name '{name}' is not a valid rule name "
                "(lowercase letters, digits and '-', starting with a letter or digit)"
            )
            self.error((), message)
        checked = self.source.validate(RuleFile, raw)
        self.loader.problems.extend(self.source.problems())
        self.components(raw.get("components"))
        outcomes = raw.get("outcomes")
        templates: dict[str, Template] = {}
        for outcome in OUTCOMES:
            table = outcomes.get(outcome) if isinstance(outcomes, dict) else None
            if isinstance(table, dict) and (found := self.outcome(outcome, table)) is not None:
                templates[outcome] = found
        value = raw.get("followup")
        kinds = self.followup(value) if isinstance(value, dict) else ({}, {})
        if checked is None or self.failed:
            return None
        actions = {
            outcome: OutcomeAction(table.template, tuple(table.whiteboard), table.needinfo)
            for outcome in OUTCOMES
            if (table := getattr(checked.outcomes, outcome.replace("-", "_")))
        }
        settings = None
        if (after := checked.followup) is not None:
            commands = tuple(dict.fromkeys(after.commands))
            settings = Followup(
                commands, after.retriage, after.stale_after_days, after.remind, *kinds
            )
        return Rule(
            name,
            self.file,
            checked.product,
            tuple(dict.fromkeys(checked.components)),
            checked.directory_url,
            checked.needinfo_cap,
            actions,
            templates,
            settings,
        )

    def components(self, value: Any) -> None:
        seen: dict[str, int] = {}
        for index, item in enumerate(value if isinstance(value, list) else ()):
            if isinstance(item, str) and (first := seen.setdefault(item, index)) != index:
                self.error(
                    ("components", index), f"'{item}' is listed twice (also components[{first}])"
                )

    def outcome(self, outcome: str, table: dict[str, Any]) -> Template | None:
        base: FieldPath = ("outcomes", outcome)
        for index, tag in enumerate(table.get("whiteboard") or ()):
            message = _tag_problem(tag, outcome) if isinstance(tag, str) else None
            if message:
                self.error((*base, "whiteboard", index), message)
        if table.get("needinfo") == "delegates" and outcome in NO_COMMUNITY:
            self.error(
                (*base, "needinfo"),
                f"'delegates' needs a community, and outcome '{outcome}' has none; "
                "use 'reporter' or 'nobody'",
            )
        return self.template(table.get("template"), (*base, "template"))

    def template(self, name: Any, path: FieldPath) -> Template | None:
        """The compiled template a rule names; None when it is not there (reported) or
        not a name at all (the model reports that)."""
        if not isinstance(name, str) or not name.strip():
            return None
        loader = self.loader
        if name not in loader.template_names:
            where = loader.templates_dir
            hint = did_you_mean(name, loader.template_names)
            if "/" in name or "\\" in name or name.startswith("."):
                hint = f"; give a file name in {where}" + hint
            self.error(path, f"no template '{name}' in {where}{hint}")
            return None
        compiled = loader.compiled.get(name)
        if compiled is None:
            self.failed = True  # its own syntax error is already reported
        return compiled

    def followup(self, value: dict[str, Any]) -> tuple[dict[str, Template], dict[str, str]]:
        """`[followup]`'s templates, compiled and by name (`KIND.md.j2` unless named)."""
        raw_names = value.get("templates")
        raw_names = raw_names if isinstance(raw_names, dict) else {}
        compiled: dict[str, Template] = {}
        names: dict[str, str] = {}
        for kind in followup.KINDS:
            name = raw_names.get(kind, f"{kind}.md.j2")
            if kind not in raw_names and name not in self.loader.template_names:
                where = self.loader.templates_dir
                self.error(("followup",), f"no template '{name}' in {where} (templates.{kind})")
                continue
            names[kind] = name
            if (found := self.template(name, ("followup", "templates", kind))) is not None:
                compiled[kind] = found
        return compiled, names


def _tag_problem(tag: str, outcome: str) -> str | None:
    """What is wrong with one whiteboard tag, if anything."""
    if any(ch.isspace() for ch in tag):
        return "a whiteboard tag must not contain spaces; list each tag separately"
    try:
        for _, name, spec, conversion in list(string.Formatter().parse(tag)):
            if name is None:
                continue
            if name != PLACEHOLDER:
                return f"unknown placeholder '{{{name}}}'; only '{{{PLACEHOLDER}}}' is allowed"
            if spec or conversion:
                return f"'{{{PLACEHOLDER}}}' takes no format spec or conversion"
            if outcome in NO_COMMUNITY:
                return (
                    f"'{{{PLACEHOLDER}}}' is empty for outcome '{outcome}': there is no community"
                )
        tag.format(community="slug")  # parse() lets an unclosed '{community' through
    except ValueError as exc:
        return f"{exc}; write {{{{ and }}}} for literal braces"
    return None
