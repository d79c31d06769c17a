"""The statement layer: every PGR-LINT rule's check over every statement, in order.

No server: this is what the pre-commit hook runs. One pass over the statements; each
enabled statement rule's predicate sees the node and the ``State`` the earlier statements
left (``SET ROLE``, SECURITY DEFINER functions), then ``track`` moves the state on. The
statements a DO block runs (``plpgsql.embedded``) are checked at their own lines, as the
idempotent ``DO $$ BEGIN IF NOT EXISTS ... CREATE ROLE ... END $$`` is how many teams
write their role migrations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..audit.naming import NamingPolicy
from ..core.model import Rule
from ..evaluate.policy_drops import created_policy
from ..evaluate.statement_checks import CHECKS, State, end_transaction, track
from .plpgsql import embedded
from .source import Statement


@dataclass
class Hit:
    """One statement rule firing on one statement."""

    rule: Rule
    statement: Statement
    values: dict[str, Any]


def run_checks(
    statements: Sequence[Statement],
    rules: Sequence[Rule],
    naming: Any = None,
    state: State | None = None,
) -> list[Hit]:
    """Hits of ``rules`` (statement rules only) over ``statements``, in statement order.
    ``state``: a start other than an empty cluster's (production's policies, --snapshot)."""
    active = [(r, CHECKS[r.check]) for r in rules if r.check is not None]
    state = state or State()
    state.naming = naming or NamingPolicy.default()
    for st in statements:  # DROP POLICY needs to know whether the file re-creates it
        for one in (st, *embedded(st)):
            made = created_policy(one.node)
            if made is not None:
                made_at = (st.file, made[0], made[1])
                state.policies.creations.setdefault(made_at, []).append(
                    ((st.index, one.line), made[2])
                )
    sessions: dict[tuple[str | None, str | None], str | None] = {}
    hits: list[Hit] = []
    last_key: tuple[str | None, str | None] | None = None
    last_file: str | None = None
    for st in statements:
        if st.file != last_file:  # a tool commits each file: SET LOCAL ROLE ends with it
            end_transaction(state)
            last_file = st.file
        key = (st.database, st.user)
        if key != last_key:  # \connect starts a new session: SET ROLE does not carry over
            if last_key is not None:
                sessions[last_key] = state.current_role
            state.current_role = sessions.get(key)
            last_key = key
        for one in (st, *embedded(st)):
            state.placeholders = one.placeholders
            state.position = (one.file, one.line, st.index)
            for rule, predicate in active:
                for values in predicate(one.node, state):
                    hits.append(Hit(rule=rule, statement=one, values=values))
            track(one.node, state)
    return hits
