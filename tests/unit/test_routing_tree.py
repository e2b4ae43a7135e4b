"""The route tree: matching, continue, inheritance, matcher syntaxes.

Covers:
- depth-first, first match wins among siblings; ``continue: true`` lets later siblings
  match too; no matching child means the parent is the match;
- ``matchers`` (=, !=, =~, !~, quoted and unquoted, several per item, braces), and the
  old ``match`` / ``match_re``; regexes are anchored; a missing label is "";
- receiver, group_by and the three timers are inherited; time intervals are not;
- route keys in Alertmanager's format (sorted matchers, quoted values);
- the matcher parser rejects malformed text with the offending part.
"""

from __future__ import annotations

import pytest

from scalepilot.config.alertmanager import parse_matchers
from scalepilot.control.alerting.routing import build_plan
from scalepilot.domain.labels import make_labels
from scalepilot.domain.matchers import MatchOp
from tests.unit.test_routing_support import settings

TREE = """
route:
  receiver: default
  group_by: [alertname]
  group_wait: 10s
  routes:
    - matchers: ['severity="critical"']
      receiver: pager
      continue: true
      group_wait: 0s
    - match: {team: db}
      receiver: dba
      repeat_interval: 1h
      mute_time_intervals: [nights]
      routes:
        - match_re: {service: "pg.*"}
          receiver: pg
          group_by: [service]
    - matchers: ['severity=~"warning|critical"', "team!=db"]
      receiver: chat
time_intervals:
  - name: nights
    time_intervals: [{times: [{start_time: "00:00", end_time: "06:00"}]}]
receivers:
  - name: default
  - name: pager
  - name: dba
  - name: pg
  - name: chat
"""


def _match(text: str, **labels: str) -> list[str]:
    plan = build_plan(settings(text))
    return [r.opts.receiver for r in plan.root.match(make_labels(None, {"alertname": "X", **labels}))]


def test_first_match_wins_unless_continue() -> None:
    assert _match(TREE, severity="critical", team="web") == ["pager", "chat"]
    assert _match(TREE, severity="critical", team="db", service="pg-main") == ["pager", "pg"]
    assert _match(TREE, severity="critical", team="db", service="redis") == ["pager", "dba"]
    assert _match(TREE, severity="warning", team="web") == ["chat"]
    assert _match(TREE, severity="info") == ["default"]
    # Anchored regex: "pgx" would match "pg.*" but "mypg" must not.
    assert _match(TREE, team="db", service="mypg") == ["dba"]


def test_options_are_inherited_but_time_intervals_are_not() -> None:
    plan = build_plan(settings(TREE))
    pager, dba, chat = plan.root.routes
    (pg,) = dba.routes
    assert pager.opts.group_wait == 0 and pager.opts.group_by == ("alertname",)
    assert dba.opts.group_wait == 10 and dba.opts.repeat_interval == 3600
    assert dba.opts.mute_time_intervals == ("nights",)
    assert pg.opts.repeat_interval == 3600 and pg.opts.group_by == ("service",) and pg.opts.group_wait == 10
    assert pg.opts.mute_time_intervals == ()
    assert chat.opts.group_interval == 300 and plan.root.opts.repeat_interval == 4 * 3600


def test_route_keys_have_alertmanagers_format() -> None:
    plan = build_plan(settings(TREE))
    pager, dba, chat = plan.root.routes
    assert plan.root.key == "{}"
    assert pager.key == '{}/{severity="critical"}'
    assert dba.routes[0].key == '{}/{team="db"}/{service=~"pg.*"}'
    assert chat.key == '{}/{severity=~"warning|critical",team!="db"}'
    assert len({r.id for r in plan.root.walk()}) == 5


def test_matcher_syntaxes() -> None:
    ms = parse_matchers('{severity="critical", team=~"db|web", env!=dev, job!~"test.*"}')
    assert [(m.name, m.op, m.value) for m in ms] == [
        ("severity", MatchOp.EQ, "critical"),
        ("team", MatchOp.RE, "db|web"),
        ("env", MatchOp.NE, "dev"),
        ("job", MatchOp.NRE, "test.*"),
    ]
    (m,) = parse_matchers(r'summary="a \"quoted\", value"')
    assert m.value == 'a "quoted", value'
    (m,) = parse_matchers("instance=")
    assert m.value == "" and m.matches(make_labels(None, {"a": "b"}))


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("severity", "expected name"),
        ('severity="critical', "unterminated"),
        ('{a="b"', "closing"),
        ('a=~"("', "regular expression"),
        ('a="b" c="d"', "unexpected"),
        ("", "no matcher"),
    ],
)
def test_bad_matchers_name_the_problem(text: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        parse_matchers(text)
