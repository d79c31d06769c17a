"""The SQL statements a DO block runs, located at their own lines.

Why: the idempotent role migration is a DO block (``DO $$ BEGIN IF NOT EXISTS (SELECT
FROM pg_roles ...) THEN CREATE ROLE app LOGIN PASSWORD '...'; END IF; END $$``); without
looking inside, its password literal, SUPERUSER or GRANT TO PUBLIC would pass the statement
checks. pglast's PL/pgSQL parser gives each statement's text and line within the body;
statements run through ``EXECUTE 'constant string'`` are read too. ``EXECUTE format(...)``
and other built strings are not: only the effect layer sees what they do. Function bodies
are not read: they run when called, not when the migration runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from .source import Statement


def embedded(st: Statement) -> list[Statement]:
    """The statements ``st`` (a DO block in PL/pgSQL) runs; [] for anything else."""
    if st.embedded or st.kind != "DoStmt":
        return []
    body, language = None, "plpgsql"
    for o in st.node.args or ():
        if o.defname == "as":
            body = getattr(o.arg, "sval", None)
        elif o.defname == "language":
            language = str(getattr(o.arg, "sval", "")).lower()
    if not body or language != "plpgsql":
        return []
    import pglast

    try:
        tree = pglast.parse_plpgsql(st.text)
    except Exception:  # noqa: BLE001 - the server reports a body that does not compile
        return []
    at = st.text.find(body)
    prefix = st.text[: max(at, 0)]
    first_line = st.line + prefix.count("\n")
    first_col = (
        len(prefix) - prefix.rfind("\n") - 1 if "\n" in prefix else st.column - 1 + len(prefix)
    )
    body_lines = body.split("\n")
    out: list[Statement] = []
    for lineno, sql in _queries(tree):
        try:
            parsed = pglast.parse_sql(sql)
        except Exception:  # noqa: BLE001 - PL/pgSQL-only syntax (INTO var, ...): not checked
            continue
        text = body_lines[lineno - 1] if 0 < lineno <= len(body_lines) else ""
        head = sql.strip().split("\n")[0][:40]
        pos = text.find(head) if head else -1
        pos = pos if pos >= 0 else len(text) - len(text.lstrip())
        column = pos + 1 + (first_col if lineno == 1 else 0)
        for rs in parsed:
            start = rs.stmt_location or 0
            end = start + rs.stmt_len if rs.stmt_len else len(sql)
            out.append(
                replace(
                    st,
                    line=first_line + lineno - 1 if at >= 0 else st.line,
                    column=column if at >= 0 else st.column,
                    text=sql[start:end].strip(),
                    node=rs.stmt,
                    gexec=False,
                    embedded=True,
                )
            )
    return out


def _queries(tree: Any) -> Iterator[tuple[int, str]]:
    """(line in the body, SQL) of every statement the block runs, in order."""
    stack = [tree]
    found: list[tuple[int, int, str]] = []
    seq = 0
    while stack:
        cur = stack.pop()
        if isinstance(cur, list):
            stack.extend(reversed(cur))
            continue
        if not isinstance(cur, dict):
            continue
        for key, value in cur.items():
            if key == "PLpgSQL_stmt_execsql" and isinstance(value, dict):
                q = _expr(value.get("sqlstmt"))
                if q:
                    found.append((value.get("lineno", 1), seq, q))
                    seq += 1
            elif key == "PLpgSQL_stmt_dynexecute" and isinstance(value, dict):
                q = _constant(_expr(value.get("query")))
                if q:
                    found.append((value.get("lineno", 1), seq, q))
                    seq += 1
            if isinstance(value, dict | list):
                stack.append(value)
    for lineno, _seq, q in sorted(found):
        yield lineno, q


def _expr(node: Any) -> str | None:
    if isinstance(node, dict):
        inner = node.get("PLpgSQL_expr")
        if isinstance(inner, dict):
            q = inner.get("query")
            return q if isinstance(q, str) else None
    return None


def _constant(expr: str | None) -> str | None:
    """The value of ``EXECUTE 'GRANT ...'`` (a string constant), else None."""
    if not expr:
        return None
    import pglast
    from pglast import ast

    try:
        (rs,) = pglast.parse_sql(f"SELECT {expr}")
    except Exception:  # noqa: BLE001 - not a plain expression
        return None
    targets: Any = getattr(rs.stmt, "targetList", None) or ()
    if len(targets) != 1:
        return None
    val = targets[0].val
    if isinstance(val, ast.A_Const) and isinstance(val.val, ast.String):
        return str(val.val.sval)
    return None
