"""One CLI: the same name for text output, the target first, exit codes documented per
command and checked against the code, and the options every command was missing."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import click
import pytest
from cli_support import run_cli

from pgaudit_roles.cli import COMMANDS, cli
from pgaudit_roles.core import errors

COMMANDS_DIR = Path(__file__).resolve().parent.parent / "pgaudit_roles" / "commands"


def _all_commands() -> dict[str, click.Command]:
    ctx = click.Context(cli)
    out: dict[str, click.Command] = {}
    for name in cli.list_commands(ctx):
        cmd = cli.get_command(ctx, name)
        assert cmd is not None
        if isinstance(cmd, click.Group):
            sub_ctx = click.Context(cmd, parent=ctx, info_name=name)
            for sub in cmd.list_commands(sub_ctx):
                out[f"{name} {sub}"] = cmd.get_command(sub_ctx, sub)  # type: ignore[assignment]
        else:
            out[name] = cmd
    return out


def test_every_command_has_a_row_in_the_exit_code_table():
    commands = set(_all_commands())
    documented = set(errors.COMMAND_EXITS)
    assert commands - documented == set(), (
        "add the command to errors.COMMAND_EXITS (what 0, 1, 3 mean for it), then run "
        "python -m pgaudit_roles.docgen"
    )
    assert documented - commands == set()
    for name, codes in errors.COMMAND_EXITS.items():
        assert set(codes) <= set(errors.EXIT_CODES), name
        assert 0 in codes, name


def _exit_literals(module: Path) -> set[int]:
    """Exit codes a command module can end with: sys.exit(N), sys.exit(EXIT_X), and both
    branches of sys.exit(A if c else B)."""
    names = {k: v for k, v in vars(errors).items() if k.startswith("EXIT_") and isinstance(v, int)}
    found: set[int] = set()

    def value(node: ast.AST) -> None:
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            found.add(node.value)
        elif isinstance(node, ast.Name) and node.id in names:
            found.add(names[node.id])
        elif isinstance(node, ast.IfExp):
            value(node.body)
            value(node.orelse)

    for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "exit"
            and node.args
        ):
            value(node.args[0])
    return found


def test_exit_codes_in_the_code_are_in_the_table():
    groups = {"rules", "baseline", "waivers"}
    for name, target in COMMANDS.items():
        module = COMMANDS_DIR / (target.split(":")[0].replace(".", "/") + ".py")
        if not module.exists():
            continue
        codes = _exit_literals(module) - {errors.EXIT_USAGE}
        rows = [
            k
            for k in errors.COMMAND_EXITS
            if k == name or (name in groups and k.startswith(name + " "))
        ]
        documented = set().union(*(errors.COMMAND_EXITS[k] for k in rows))
        assert codes <= documented, f"{name}: exits with {codes - documented} not in COMMAND_EXITS"
    shared = _exit_literals(COMMANDS_DIR / "_shared.py")  # scan and check
    assert shared <= set(errors.COMMAND_EXITS["scan"]) & set(errors.COMMAND_EXITS["check"])


def test_readme_documents_the_per_command_table():
    from pgaudit_roles.docgen import README, render_command_exit_codes

    assert render_command_exit_codes() in README.read_text(encoding="utf-8")
    assert (
        "`waivers lint` | the file is clean | the file has problems" in render_command_exit_codes()
    )


def test_text_is_the_one_name_of_text_output():
    for name, cmd in _all_commands().items():
        for p in cmd.params:
            if p.name in ("fmt", "formats") and isinstance(p.type, click.Choice):
                assert "table" not in p.type.choices, name
                if p.default in ("table", "text"):
                    assert p.default == "text", name


def test_table_is_still_accepted(capsys):
    code, out_table, _ = run_cli(["rules", "list", "--format", "table"], capsys)
    assert code == 0
    code, out_text, _ = run_cli(["rules", "list", "--format", "text"], capsys)
    assert code == 0 and out_table == out_text and "PGR-ROLE-001" in out_text


def test_rules_show_json_and_rules_list_config(capsys, tmp_path):
    code, out, _ = run_cli(["rules", "show", "PGR-ROLE-001", "--format", "json"], capsys)
    assert code == 0
    doc = json.loads(out)
    assert doc["id"] == "PGR-ROLE-001" and doc["query"] and doc["disabled"] is False
    cfg = tmp_path / "c.toml"
    cfg.write_text('[rules]\ndisable = ["PGR-ROLE-001"]\nseverity = { "PGR-COV-001" = "low" }\n')
    code, out, _ = run_cli(["rules", "list", "--config", str(cfg)], capsys)
    assert code == 0
    line = next(ln for ln in out.splitlines() if ln.startswith("PGR-ROLE-001"))
    assert line.endswith("[disabled]")
    cov = next(ln for ln in out.splitlines() if ln.startswith("PGR-COV-001"))
    assert cov.split()[1] == "low"
    code, out, _ = run_cli(["rules", "list", "--config", str(cfg), "--format", "json"], capsys)
    by_id = {r["id"]: r for r in json.loads(out)}
    assert by_id["PGR-ROLE-001"]["disabled"] and by_id["PGR-COV-001"]["effective_severity"] == "low"
    code, _out, err = run_cli(["rules", "show", "NOPE-1", "--format", "json"], capsys)
    assert code == 2 and "unknown rule" in err


def test_waivers_lint_exits_1_as_documented(capsys, tmp_path):
    f = tmp_path / "w.toml"
    f.write_text(
        '[[waiver]]\nrule = "PGR-ROLE-001"\nreason = "r"\nowner = "o"\nexpires = 2020-01-01\n'
    )
    code, out, _ = run_cli(["waivers", "lint", str(f)], capsys)
    assert code == 1 and "expired" in out
    assert 1 in errors.COMMAND_EXITS["waivers lint"]


def test_who_can_grammar_target_first_on_optional():
    from pgaudit_roles.commands.who_can import parse_question

    new, t1 = parse_question(("snap.json", "SELECT", "app.orders"))
    old, t2 = parse_question(("SELECT", "ON", "app.orders", "snap.json"))
    assert new == old and t1 == t2 == "snap.json"
    q, _ = parse_question(("snap.json", "ALTER", "SYSTEM", "PARAMETER", "work_mem"))
    assert (q.privilege, q.type_word, q.parts) == ("ALTER SYSTEM", "PARAMETER", ["work_mem"])
    q, _ = parse_question(("host=db1", "ALL", "PRIVILEGES", "ON", "SCHEMA", "x"))
    assert (q.privilege, q.type_word) == ("ALL", "SCHEMA")
    q, _ = parse_question(("snap.json", "SELECT", "ON", "select"))  # a keyword-named object
    assert q.parts == ["select"]
    with pytest.raises(errors.UsageError, match="needs ON before it"):
        parse_question(("snap.json", "orders"))


# --- on real servers ----------------------------------------------------------------------


def _qi(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@pytest.mark.pg
def test_target_first_and_old_order_agree_and_diff_options(pg, fresh_db, tmp_path, capsys):
    role = pg.unique("cc_app")
    pg.execute(f"CREATE ROLE {_qi(role)} LOGIN")
    try:
        pg.execute(
            f"CREATE TABLE public.cc_t(i int); GRANT SELECT ON public.cc_t TO {_qi(role)}",
            dbname=fresh_db,
        )
        old = tmp_path / "old.json"
        new = tmp_path / "new.json"
        code, _o, err = run_cli(
            ["collect", pg.conninfo(dbname=fresh_db), "-d", fresh_db, "-o", str(old), "-q"], capsys
        )
        assert code == 0, err
        pg.execute(f"ALTER ROLE {_qi(role)} SUPERUSER")
        code, _o, err = run_cli(
            ["collect", pg.conninfo(dbname=fresh_db), "-d", fresh_db, "-o", str(new), "-q"], capsys
        )
        assert code == 0, err
    finally:
        pg.execute("DROP TABLE IF EXISTS public.cc_t", dbname=fresh_db)
        pg.execute(f"DROP ROLE IF EXISTS {_qi(role)}")

    # explain: SNAPSHOT ROLE, and the older ROLE SNAPSHOT, say the same
    a = run_cli(["explain", str(old), role], capsys)
    b = run_cli(["explain", role, str(old)], capsys)
    assert a[0] == b[0] == 0 and a[1] == b[1] and "cc_t" in a[1]
    # who-can: target first without ON, and the older form with ON and the target last
    a = run_cli(["who-can", str(old), "SELECT", "TABLE", "public.cc_t"], capsys)
    b = run_cli(["who-can", "SELECT", "ON", "TABLE", "public.cc_t", str(old)], capsys)
    assert a[0] == b[0] == 0 and a[1] == b[1] and role in a[1]

    # diff: the new superuser gates (exit 1) ...
    code, out, err = run_cli(["diff", str(old), str(new), "--format", "json"], capsys)
    assert code == 1, err
    doc = json.loads(out)
    new_rules = {f["rule_id"] for f in doc["findings"]["new"]}
    assert "PGR-ROLE-001" in new_rules
    # ... not once a baseline accepts it ...
    base = tmp_path / "base.json"
    code, _o, err = run_cli(["baseline", "create", str(new), "-o", str(base)], capsys)
    assert code == 0, err
    code, out, err = run_cli(["diff", str(old), str(new), "--baseline", str(base)], capsys)
    assert code == 0, (out, err)
    # ... and --framework scopes what is compared to the framework's rules
    from pgaudit_roles.evaluate.frameworks import load_framework
    from pgaudit_roles.evaluate.rules import load_rules

    rules = load_rules()
    wanted = load_framework("cis", rules).rule_ids() | {
        r.id for r in rules if r.category == "coverage"
    }
    code, out, err = run_cli(
        ["diff", str(old), str(new), "--framework", "cis", "--format", "json", "--fail-on", "none"],
        capsys,
    )
    assert code == 0, err
    scoped = json.loads(out)["findings"]
    assert {f["rule_id"] for key in ("new", "resolved") for f in scoped[key]} <= wanted

    def listed(findings: dict) -> set[tuple[str, str, str]]:
        return {
            (key, f["rule_id"], f["fingerprint"])
            for key in ("new", "resolved", "changed", "unknown")
            for f in findings[key]
        }

    # exactly the unscoped diff's findings of those rules (diff evaluates only them)
    assert listed(scoped) == {x for x in listed(doc["findings"]) if x[1] in wanted}
    code, _o, err = run_cli(
        ["diff", str(old), str(new), "--baseline", str(tmp_path / "nope.json")], capsys
    )
    assert code == 2 and "baseline file not found" in err


# --- options declared once (commands/_args.py) ------------------------------------------------

OWN_MEANING = {
    # (flag, command): the command means something else by it, so it keeps its own help
    **dict.fromkeys(
        (
            ("--config", c)
            for c in (
                "baseline create",
                "diff",
                "explain",
                "fleet",
                "paths",
                "query",
                "rules list",
                "rules show",
                "who-can",
            )
        ),
        "what its configuration is used for here",
    ),
    ("--fail-on", "diff"): "gates on new findings only",
    ("--fail-on", "fleet"): "gates on any target",
    ("--baseline", "diff"): "snapshots only, also spares findings new to the diff",
    ("--waivers", "baseline create"): "keeps waived findings out of the baseline",
    ("--waivers", "diff"): "spares waived new findings",
    ("--waivers", "fleet"): "applied to every target",
    ("--statement-timeout", "collect"): "shows its default instead of naming it",
    ("--lock-timeout", "collect"): "shows its default instead of naming it",
    ("--verbose", "lint"): "prints the file order, not debug logs",
    ("--output", "baseline create"): "the baseline file (required)",
    ("--output", "collect"): "the snapshot file",
    ("--output", "twin"): "the twin's snapshot",
}


def _shape(p: click.Parameter) -> tuple:
    """What a user sees of an option: flags, help, default, type, flag/multiple, metavar."""
    assert isinstance(p, click.Option)
    kind = (type(p.type).__name__, tuple(getattr(p.type, "choices", ()) or ()))
    return (
        tuple(p.opts),
        p.name,
        p.help,
        repr(p.default),
        kind,
        p.is_flag,
        p.multiple,
        p.metavar,
        p.show_default,
    )


def _shared_options() -> dict[str, click.Option]:
    """Every option decorator of commands/_args.py, as the Option it declares."""
    from pgaudit_roles.commands import _args

    out: dict[str, click.Option] = {}
    for name in dir(_args):
        if not (name.endswith("_option") or name == "text_json_html_format"):
            continue

        def f() -> None: ...

        getattr(_args, name)(f)
        [param] = f.__click_params__  # type: ignore[attr-defined]
        out[param.opts[0]] = param
    return out


def test_a_shared_option_reads_the_same_in_every_command():
    """An option declared once in _args.py (--rules-dir, --sarif-omit-waived, --config...)
    has the same help, default and type in every command that offers it under the same
    flag and parameter name, unless the command means something else by it (OWN_MEANING)."""
    shared = _shared_options()
    assert {"--rules-dir", "--config", "--fail-on", "--sarif-omit-waived", "--output"} <= set(
        shared
    )
    differ = []
    seen = set()
    for cname, cmd in _all_commands().items():
        for p in cmd.params:
            ref = shared.get(p.opts[0]) if isinstance(p, click.Option) else None
            if ref is None or p.name != ref.name or (p.opts[0], cname) in OWN_MEANING:
                continue
            if getattr(ref.type, "choices", None) not in (None, getattr(p.type, "choices", None)):
                continue  # a --format of other formats is another option
            seen.add((p.opts[0], cname))
            if _shape(p) != _shape(ref):
                differ.append(f"{cname} {p.opts[0]}: {p.help!r} != {ref.help!r}")
    assert not differ, "use the shared option decorator of commands/_args.py:\n" + "\n".join(differ)
    assert set(OWN_MEANING) <= {
        (p.opts[0], c) for c, cmd in _all_commands().items() for p in cmd.params
    }, "an OWN_MEANING entry names an option the command no longer has"
    assert ("--rules-dir", "waivers lint") in seen and ("--output", "history") in seen


def test_shared_options_are_declared_once():
    """The options every command words the same are spelled out only in _args.py."""
    once = ("--rules-dir", "--sarif-anchor", "--sarif-omit-waived", "--history-keep")
    for path in sorted(COMMANDS_DIR.glob("*.py")):
        if path.name == "_args.py":
            continue
        text = path.read_text(encoding="utf-8")
        for flag in once:
            assert f'"{flag}"' not in text, f"{path.name} declares {flag} again: use _args"
