"""Unit tests of the offline pg_hba.conf parser: small files, one feature or error each.

No server needed; tests/test_hba_server.py proves the same behaviour against
pg_hba_file_rules on every version. Here each feature gets a focused, readable case,
including the version switches (continuation 13/14, include and regex 15/16, oauth 17/18).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pgaudit_roles.collect.hba import (
    HBA_COLUMNS,
    HbaBuild,
    build_from_pg_config,
    parse_hba_file,
    quote_token,
    redact_options,
    token_is_literal,
    unquote_token,
)
from pgaudit_roles.collect.snapshot import CLUSTER_TABLES
from pgaudit_roles.core.errors import EXIT_USAGE, UsageError


def parse(
    tmp_path: Path,
    text: str,
    major: int = 16,
    build: HbaBuild | None = None,
    files: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    for rel, content in (files or {}).items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(content, encoding="utf-8")
    hba = tmp_path / "pg_hba.conf"
    hba.write_text(text, encoding="utf-8")
    return parse_hba_file(str(hba), major, build=build)


def one(
    tmp_path: Path, line: str, major: int = 16, build: HbaBuild | None = None
) -> dict[str, Any]:
    rows = parse(tmp_path, "local all all trust\n" + line + "\n", major, build)
    assert len(rows) == 2
    return rows[1]


# --- shape ---------------------------------------------------------------------------------
def test_rows_have_exactly_the_snapshot_columns(tmp_path: Path) -> None:
    rows = parse(tmp_path, "local all all trust\nhost all all 10.0.0.0/8 md5\nbogus\n")
    spec = [c[0] for c in CLUSTER_TABLES["hba_rules"]]
    assert list(HBA_COLUMNS) == spec
    for r in rows:
        assert list(r) == spec
    json.dumps(rows)  # plain JSON-able values only


def test_rule_numbers_skip_error_lines(tmp_path: Path) -> None:
    rows = parse(tmp_path, "local all all trust\nnonsense here\n\n# c\nhost all all all reject\n")
    assert [(r["line_number"], r["rule_number"]) for r in rows] == [(1, 1), (2, None), (5, 2)]
    assert rows[1]["error"] == 'invalid connection type "nonsense"'
    assert rows[1]["type"] is None and rows[1]["databases"] is None
    assert all(r["file_name"] == str(tmp_path / "pg_hba.conf") for r in rows)


@pytest.mark.parametrize("ctype", ["host", "hostssl", "hostnossl", "hostgssenc", "hostnogssenc"])
def test_every_tcp_connection_type(tmp_path: Path, ctype: str) -> None:
    r = one(tmp_path, f"{ctype} db u 192.168.0.0/16 scram-sha-256")
    assert (
        r["type"],
        r["databases"],
        r["users"],
        r["address"],
        r["netmask"],
        r["auth_method"],
    ) == (ctype, ["db"], ["u"], "192.168.0.0", "255.255.0.0", "scram-sha-256")
    assert r["error"] is None and r["rule_number"] == 2


def test_local_line_has_no_address(tmp_path: Path) -> None:
    r = one(tmp_path, "local  sameuser\t+grp  peer map=m  # comment")
    assert (
        r["type"],
        r["databases"],
        r["users"],
        r["address"],
        r["auth_method"],
        r["options"],
    ) == ("local", ["sameuser"], ["+grp"], None, "peer", ["map=m"])


def test_crlf_line_endings(tmp_path: Path) -> None:
    rows = parse(tmp_path, "local all all trust\r\nhost all all ::1/128 md5\r\n")
    assert rows[1]["address"] == "::1" and rows[1]["auth_method"] == "md5"


# --- tokens ---------------------------------------------------------------------------------
def test_quoted_keywords_stay_distinguishable(tmp_path: Path) -> None:
    r = one(tmp_path, 'host "all","replication",sameuser "all",+admins,"+admins",bob "all" trust')
    assert r["databases"] == ['"all"', '"replication"', "sameuser"]
    assert r["users"] == ['"all"', "+admins", '"+admins"', "bob"]
    assert r["address"] == '"all"'  # a host named "all", not the keyword
    assert [unquote_token(t) for t in r["databases"]] == ["all", "replication", "sameuser"]
    assert token_is_literal('"all"') and not token_is_literal("all")


def test_quoted_non_keywords_are_stored_plain(tmp_path: Path) -> None:
    r = one(tmp_path, 'local "My DB","x,y","a""b","" "user with space",z trust')
    assert r["databases"] == ["My DB", "x,y", 'a"b', ""]
    assert r["users"] == ["user with space", "z"]


def test_quote_token_doubles_inner_quotes() -> None:
    assert quote_token('a"b') == '"a""b"'
    assert unquote_token(quote_token('a"b')) == 'a"b'


def test_names_made_of_quotes_stay_unambiguous(tmp_path: Path) -> None:
    # """""" is the name "" (two quote characters); """all""" is the name "all" with quotes
    r = one(tmp_path, 'local """""","""all""" """+g""" trust')
    assert [unquote_token(t) for t in r["databases"]] == ['""', '"all"']
    assert [unquote_token(t) for t in r["users"]] == ['"+g"']
    assert all(token_is_literal(t) for t in r["databases"] + r["users"])


def test_partly_quoted_keyword_is_still_a_keyword(tmp_path: Path) -> None:
    # PostgreSQL only treats a token as quoted when the quote comes first
    assert one(tmp_path, 'local al"l" all trust')["databases"] == ["all"]


def test_comments_and_empty_list_elements(tmp_path: Path) -> None:
    r = one(tmp_path, "local x,,y all trust#comment right after a token")
    assert r["databases"] == ["x", "y"] and r["auth_method"] == "trust"
    rows = parse(tmp_path, "   # only a comment\n\t\nlocal all all trust\n")
    assert [r["line_number"] for r in rows] == [3]


def test_hostile_names_round_trip(tmp_path: Path) -> None:
    r = one(tmp_path, 'local "ünïcødé",<script>alert(1)</script> "bob\'s" trust')
    assert r["databases"] == ["ünïcødé", "<script>alert(1)</script>"]
    assert r["users"] == ["bob's"]


def test_unterminated_quote_runs_to_end_of_line(tmp_path: Path) -> None:
    r = one(tmp_path, 'local "unterminated all trust')
    assert r["error"] == "end-of-line before role specification"


# --- continuation --------------------------------------------------------------------------
CONT = "local all all trust\nhost all all \\\n127.0.0.1/32 trust\nlocal all all reject\n"


def test_continuation_joins_lines_on_14(tmp_path: Path) -> None:
    rows = parse(tmp_path, CONT, major=14)
    assert [(r["line_number"], r["address"], r["error"]) for r in rows] == [
        (1, None, None),
        (2, "127.0.0.1", None),
        (4, None, None),
    ]


def test_continuation_is_an_error_on_13(tmp_path: Path) -> None:
    rows = parse(tmp_path, CONT, major=13)
    assert [(r["line_number"], r["error"]) for r in rows] == [
        (1, None),
        (2, "end-of-line before authentication method"),
        (3, 'invalid connection type "127.0.0.1/32"'),
        (4, None),
    ]


def test_continuation_inside_quotes_and_comments(tmp_path: Path) -> None:
    text = (
        'local all all trust\nlocal "a\\\nb" all trust\nlocal all all trust # x \\\nlocal bogus\n'
    )
    rows = parse(tmp_path, text, major=16)
    assert rows[1]["databases"] == ["ab"]
    assert len(rows) == 3 and rows[2]["error"] is None  # the comment swallowed the next line


# --- @file -------------------------------------------------------------------------------
AT_FILES = {
    "lists/dbs": 'd1, d2\n# comment\n"all" d3\n',
    "lists/users": "u1 +g\nu2\n",
    "lists/sub/nested": "@../dbs n1\n",
    "lists/empty": "# none\n",
}


def test_at_file_expands_relative_to_the_referencing_file(tmp_path: Path) -> None:
    rows = parse(
        tmp_path,
        "local @lists/dbs @lists/users trust\nlocal x,@lists/sub/nested all md5\n",
        files=AT_FILES,
    )
    assert rows[0]["databases"] == ["d1", "d2", '"all"', "d3"]
    assert rows[0]["users"] == ["u1", "+g", "u2"]
    assert rows[1]["databases"] == ["x", "d1", "d2", '"all"', "d3", "n1"]


def test_quoted_at_is_a_literal_name(tmp_path: Path) -> None:
    assert one(tmp_path, 'local "@lists/dbs" all trust')["databases"] == ["@lists/dbs"]


@pytest.mark.parametrize(
    ("major", "message"),
    [
        (
            15,
            'could not open secondary authentication file "@nope" as "{d}/nope": No such file or directory',
        ),
        (16, 'could not open file "{d}/nope": No such file or directory'),
    ],
)
def test_missing_at_file(tmp_path: Path, major: int, message: str) -> None:
    assert one(tmp_path, "local @nope all trust", major)["error"] == message.format(d=tmp_path)


def test_empty_at_file_drops_the_field(tmp_path: Path) -> None:
    rows = parse(tmp_path, "local @lists/empty all trust\n", files=AT_FILES)
    assert rows[0]["error"] == "end-of-line before authentication method"


def test_at_file_loop_is_stopped(tmp_path: Path) -> None:
    rows = parse(
        tmp_path, "local all all trust\nlocal @self all trust\n", files={"self": "x @self\n"}
    )
    assert (
        rows[1]["error"] == f'could not open file "{tmp_path}/self": maximum nesting depth exceeded'
    )
    rows = parse(tmp_path, "local all all trust\nlocal @self all trust\n", major=15)
    assert "maximum nesting depth exceeded" in rows[1]["error"]


# --- include directives ----------------------------------------------------------------------
INCLUDE_FILES = {
    "inc/one.conf": "host all all 1.1.1.1/32 trust\n",
    "inc/conf.d/b.conf": "host all all 2.2.2.2/32 trust\n",
    "inc/conf.d/a.conf": "host all all 3.3.3.3/32 trust\ninclude ../one.conf\n",
    "inc/conf.d/.hidden.conf": "host all all 4.4.4.4/32 trust\n",
    "inc/conf.d/notes.txt": "host all all 5.5.5.5/32 trust\n",
    "inc/conf.d/dir.conf/x.conf": "host all all 6.6.6.6/32 trust\n",
}
INCLUDE_TEXT = (
    "local all all trust\ninclude inc/one.conf\ninclude_if_exists inc/none.conf\n"
    "include_dir inc/conf.d\ninclude inc/missing.conf\nhost all all all reject\n"
)


def test_include_directives_on_16(tmp_path: Path) -> None:
    rows = parse(tmp_path, INCLUDE_TEXT, files=INCLUDE_FILES)
    got = [
        (
            Path(r["file_name"]).relative_to(tmp_path).as_posix(),
            r["line_number"],
            r["address"],
            r["rule_number"],
        )
        for r in rows
    ]
    assert got == [
        ("pg_hba.conf", 1, None, 1),
        ("inc/one.conf", 1, "1.1.1.1", 2),  # include, relative to pg_hba.conf
        ("inc/conf.d/a.conf", 1, "3.3.3.3", 3),  # include_dir: sorted, .conf only
        ("inc/one.conf", 1, "1.1.1.1", 4),  # ../one.conf relative to a.conf
        ("inc/conf.d/b.conf", 1, "2.2.2.2", 5),
        ("pg_hba.conf", 5, None, None),  # include of a missing file
        ("pg_hba.conf", 6, "all", 6),
    ]
    assert (
        rows[5]["error"]
        == f'could not open file "{tmp_path}/inc/missing.conf": No such file or directory'
    )


def test_include_directives_are_errors_on_15(tmp_path: Path) -> None:
    rows = parse(tmp_path, INCLUDE_TEXT, major=15, files=INCLUDE_FILES)
    errors = [r["error"] for r in rows if r["error"]]
    assert errors == [
        'invalid connection type "include"',
        'invalid connection type "include_if_exists"',
        'invalid connection type "include_dir"',
        'invalid connection type "include"',
    ]


def test_include_edge_cases_on_16(tmp_path: Path) -> None:
    rows = parse(
        tmp_path,
        'local all all trust\ninclude a b\ninclude_dir ""\ninclude_dir nodir\n'
        'include ""\n"include" one.conf\n',
        files={"one.conf": "local one all trust\n"},
    )
    assert [(r["line_number"], r["error"]) for r in rows] == [
        (1, None),
        (2, 'invalid connection type "include"'),
        (3, "empty configuration directory name"),
        (4, f'could not open directory "{tmp_path}/nodir"'),
        (1, None),
    ]


def test_include_loop_stops_at_depth_limit(tmp_path: Path) -> None:
    rows = parse(
        tmp_path,
        "include loop.conf\n",
        files={"loop.conf": "local l all trust\ninclude loop.conf\n"},
    )
    assert len(rows) == 11 and [r["rule_number"] for r in rows[:10]] == list(range(1, 11))
    assert (
        rows[-1]["error"]
        == f'could not open file "{tmp_path}/loop.conf": maximum nesting depth exceeded'
    )


# --- regex ------------------------------------------------------------------------------------
def test_regex_tokens_on_16(tmp_path: Path) -> None:
    r = one(tmp_path, 'local /^db_.*$,"/^a,b$" /^u[0-9]+$ trust')
    assert r["databases"] == ["/^db_.*$", "/^a,b$"] and r["users"] == ["/^u[0-9]+$"]
    assert (
        one(tmp_path, "local all /( trust")["error"]
        == 'invalid regular expression "(": parentheses () not balanced'
    )
    assert (
        one(tmp_path, "local /[a all trust")["error"]
        == 'invalid regular expression "[a": brackets [] not balanced'
    )
    assert (
        one(tmp_path, "local /* all trust")["error"]
        == 'invalid regular expression "*": quantifier operand invalid'
    )


def test_regex_tokens_are_literal_before_16(tmp_path: Path) -> None:
    r = one(tmp_path, "local /( all trust", major=15)
    assert r["error"] is None and r["databases"] == ["/("]


# --- addresses -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("10.1.2.3/8", ("10.1.2.3", "255.0.0.0")),
        ("10.0.0.0 255.255.0.0", ("10.0.0.0", "255.255.0.0")),
        ("0.0.0.0/0", ("0.0.0.0", "0.0.0.0")),
        ("::/0", ("::", "::")),
        ("2001:DB8::/32", ("2001:db8::", "ffff:ffff::")),
        ("fe80::1%lo/64", ("fe80::1", "ffff:ffff:ffff:ffff::")),
        ("::1 ffff::", ("::1", "ffff::")),
        ("all", ("all", None)),
        ("samehost", ("samehost", None)),
        ("samenet", ("samenet", None)),
        (".example.com", (".example.com", None)),
        ("db1.example.com", ("db1.example.com", None)),
        ("10.0.0.0/+8", ("10.0.0.0", "255.0.0.0")),
    ],
)
def test_address_forms(tmp_path: Path, address: str, expected: tuple[str, str | None]) -> None:
    r = one(tmp_path, f"host all all {address} md5")
    assert r["error"] is None
    assert (r["address"], r["netmask"]) == expected


@pytest.mark.parametrize(
    ("address", "error"),
    [
        ("10.0.0.0/33", 'invalid CIDR mask in address "10.0.0.0/33"'),
        ("1.2.3.4/", 'invalid CIDR mask in address "1.2.3.4/"'),
        (
            "db.example.com/8",
            'specifying both host name and CIDR mask is invalid: "db.example.com/8"',
        ),
        ("10.0.0.0,11.0.0.0", "multiple values specified for host address"),
        ("10.0.0.0", "end-of-line before netmask specification"),
        ("10.0.0.0 ffff::", "IP address and mask do not match"),
        ("10.0.0.0 255.0.0.0,255.255.0.0", "multiple values specified for netmask"),
    ],
)
def test_address_errors(tmp_path: Path, address: str, error: str) -> None:
    line = f"host all all {address} md5" if address != "10.0.0.0" else "host all all 10.0.0.0"
    assert one(tmp_path, line)["error"] == error


def test_missing_fields(tmp_path: Path) -> None:
    expected = {
        "local": "end-of-line before database specification",
        "local all": "end-of-line before role specification",
        "host all all": "end-of-line before IP address specification",
        "local all all": "end-of-line before authentication method",
        "local,host all all trust": "multiple values specified for connection type",
        "local all all trust,reject": "multiple values specified for authentication type",
    }
    for line, error in expected.items():
        assert one(tmp_path, line)["error"] == error, line


# --- methods and options ---------------------------------------------------------------------
def test_every_method_on_a_default_build(tmp_path: Path) -> None:
    ok = {
        "trust": "local",
        "reject": "local",
        "scram-sha-256": "local",
        "md5": "local",
        "password": "local",
        "peer": "local",
        "ident": "host",
        "gss": "host",
        "pam": "local",
        "radius radiusservers=10.0.0.1 radiussecrets=x": "host",
        "ldap ldapserver=h ldapbasedn=dc=x": "local",
        "cert": "hostssl",
    }
    for method, ctype in ok.items():
        addr = "" if ctype == "local" else " all"
        r = one(tmp_path, f"{ctype} all all{addr} {method}", major=17)
        assert r["error"] is None, (method, r["error"])
        assert r["auth_method"] == method.split()[0]
    for method in ("sspi", "bsd"):  # Windows / OpenBSD only
        assert (
            one(tmp_path, f"local all all {method}")["error"]
            == f'invalid authentication method "{method}": not supported by this build'
        )
    assert one(tmp_path, "local all all bogus")["error"] == 'invalid authentication method "bogus"'


def test_ident_on_local_is_peer_and_peer_is_local_only(tmp_path: Path) -> None:
    assert one(tmp_path, "local all all ident")["auth_method"] == "peer"
    assert (
        one(tmp_path, "host all all all peer")["error"]
        == "peer authentication is only supported on local sockets"
    )
    assert (
        one(tmp_path, "local all all gss")["error"]
        == "gssapi authentication is not supported on local sockets"
    )


def test_hostssl_only_options(tmp_path: Path) -> None:
    assert (
        one(tmp_path, "host all all all md5 clientcert=verify-ca")["error"]
        == 'clientcert can only be configured for "hostssl" rows'
    )
    assert (
        one(tmp_path, "host all all all cert")["error"]
        == "cert authentication is only supported on hostssl connections"
    )
    r = one(tmp_path, "hostssl all all all cert map=m")
    assert r["options"] == ["map=m", "clientcert=verify-full"]
    assert (
        one(tmp_path, "hostssl all all all cert clientcert=verify-ca")["error"]
        == 'clientcert can only be set to "verify-full" when using "cert" authentication'
    )
    assert one(tmp_path, "hostssl all all all cert clientcert=verify-ca", major=13)["error"] is None
    assert one(tmp_path, "hostssl all all all md5 clientcert=1", major=13)["options"] == [
        "clientcert=verify-ca"
    ]


def test_option_errors(tmp_path: Path) -> None:
    cases = {
        "local all all trust foo": "authentication option not in name=value format: foo",
        "local all all trust map=x": 'authentication option "map" is only valid for authentication '
        "methods ident, peer, gssapi, sspi, and cert",
        "local all all md5 x=1": 'unrecognized authentication option name: "x"',
        "local all all trust pamservice=p": 'authentication option "pamservice" is only valid for '
        "authentication methods pam",
    }
    for line, error in cases.items():
        assert one(tmp_path, line)["error"] == error
    assert one(tmp_path, "local all all trust map=x", major=18)["error"].endswith(
        "sspi, cert, and oauth"
    )


def test_silent_rejections_get_the_server_log_text(tmp_path: Path) -> None:
    """The view shows no error for these; the server refuses the file. We say why."""
    r = one(tmp_path, "hostssl all all all md5 clientcert=bogus")
    assert (r["error"], r["rule_number"], r["type"]) == (
        'invalid value for clientcert: "bogus"',
        None,
        None,
    )
    r = one(
        tmp_path, "host all all all radius radiusservers=10.0.0.1 radiussecrets=a radiusports=0"
    )
    assert r["error"] == 'invalid RADIUS port number: "0"'


def test_option_rendering_like_the_view(tmp_path: Path) -> None:
    assert one(tmp_path, "host all all all gss")["options"] == ["include_realm=true"]
    assert one(tmp_path, "host all all all gss include_realm=0 krb_realm=R map=m")["options"] == [
        "krb_realm=R",
        "map=m",
    ]
    assert one(tmp_path, "local all all pam pam_use_hostname=1 pamservice=svc")["options"] == [
        "pamservice=svc"
    ]
    assert one(tmp_path, "local all all ldap ldapurl=ldaps://h:1636/dc=x?uid?sub")["options"] == [
        "ldapserver=h",
        "ldapport=1636",
        "ldapscheme=ldaps",
        "ldapbasedn=dc=x",
        "ldapsearchattribute=uid",
        "ldapscope=2",
    ]
    assert (
        one(tmp_path, "local all all ldap ldapurl=http://h/x")["error"]
        == 'could not parse LDAP URL "http://h/x": Time limit exceeded'
    )
    assert one(tmp_path, "local all all trust")["options"] is None


def test_radius_lists(tmp_path: Path) -> None:
    r = one(
        tmp_path,
        'host all all all radius radiusservers="10.0.0.1, 10.0.0.2" radiussecrets=s '
        "radiusports=1812 radiusidentifiers=pg",
    )
    assert r["options"] == [
        "radiusservers=10.0.0.1, 10.0.0.2",
        "radiussecrets=<redacted>",
        "radiusidentifiers=pg",
        "radiusports=1812",
    ]
    assert (
        one(tmp_path, 'host all all all radius radiusservers="a,b" radiussecrets="x,y,z"')["error"]
        == "the number of RADIUS secrets (3) must be 1 or the same as the number of RADIUS servers (2)"
    )
    assert (
        one(tmp_path, "host all all all radius radiussecrets=x")["error"]
        == 'authentication method "radius" requires argument "radiusservers" to be set'
    )


def test_oauth_is_18_only(tmp_path: Path) -> None:
    line = "local all all oauth issuer=https://idp scope=openid"
    assert one(tmp_path, line, major=17)["error"] == 'invalid authentication method "oauth"'
    assert one(tmp_path, line, major=18)["options"] == ["issuer=https://idp", "scope=openid"]
    assert (
        one(tmp_path, "local all all oauth issuer=x", major=18)["error"]
        == 'authentication method "oauth" requires argument "scope" to be set'
    )


@pytest.mark.parametrize(
    ("libs", "line", "outcome"),
    [
        ((), "", "oauth_validator_libraries must be set for authentication method oauth"),
        (("v1",), "", ["issuer=i", "scope=s", "validator=v1"]),
        (
            ("v1", "v2"),
            "",
            'authentication method "oauth" requires argument "validator" to be set when '
            "oauth_validator_libraries contains multiple options",
        ),
        (("v1", "v2"), " validator=v2", ["issuer=i", "scope=s", "validator=v2"]),
        (
            ("v1",),
            " validator=rogue",
            'validator "rogue" is not permitted by oauth_validator_libraries',
        ),
        (
            ("v1",),
            " map=m delegate_ident_mapping=1",
            "map cannot be used in combination with delegate_ident_mapping",
        ),
    ],
)
def test_oauth_validators(tmp_path: Path, libs: tuple[str, ...], line: str, outcome: Any) -> None:
    r = one(
        tmp_path,
        "local all all oauth issuer=i scope=s" + line,
        major=18,
        build=HbaBuild(oauth_validator_libraries=libs),
    )
    assert (r["options"] if isinstance(outcome, list) else r["error"]) == outcome


# --- build and settings ----------------------------------------------------------------------
def test_build_from_pg_config() -> None:
    b = build_from_pg_config(
        "'--with-openssl' '--with-gssapi' '--without-ldap' '--with-pam'", "off", ""
    )
    assert (b.ssl, b.ssl_enabled, b.gssapi, b.ldap, b.pam, b.oauth_validator_libraries) == (
        True,
        False,
        True,
        False,
        True,
        (),
    )
    b = build_from_pg_config("'--prefix=/x' '--without-icu' '--without-gssapi'")
    assert (b.ssl, b.ssl_enabled, b.gssapi, b.oauth_validator_libraries) == (
        False,
        None,
        False,
        None,
    )
    b = build_from_pg_config("-Dssl=openssl -Dgssapi=disabled -Dldap=enabled -Dpam=enabled", "on")
    assert (b.ssl, b.ssl_enabled, b.gssapi, b.ldap, b.pam) == (True, True, False, True, True)
    assert build_from_pg_config("") == HbaBuild()  # unknown build: typical defaults


def test_build_dependent_errors(tmp_path: Path) -> None:
    r = one(tmp_path, "hostssl all all all md5", build=HbaBuild(ssl_enabled=False))
    assert r["error"] == "hostssl record cannot match because SSL is disabled"
    assert r["type"] == "hostssl" and r["rule_number"] is None  # fields shown, not in effect
    assert one(tmp_path, "hostssl all all all md5")["error"] is None  # ssl setting unknown
    assert (
        one(tmp_path, "hostssl all all all md5", build=HbaBuild(ssl=False))["error"]
        == "hostssl record cannot match because SSL is not supported by this build"
    )
    assert (
        one(tmp_path, "hostgssenc all all all md5", build=HbaBuild(gssapi=False))["error"]
        == "hostgssenc record cannot match because GSSAPI is not supported by this build"
    )
    assert (
        one(tmp_path, "local all all ldap ldapbasedn=x", build=HbaBuild(ldap=False))["error"]
        == 'invalid authentication method "ldap": not supported by this build'
    )
    assert (
        one(tmp_path, "local all all md5", major=16, build=HbaBuild(db_user_namespace=True))[
            "error"
        ]
        == 'MD5 authentication is not supported when "db_user_namespace" is enabled'
    )


# --- secrets -----------------------------------------------------------------------------------
def test_redact_options() -> None:
    assert redact_options(None) is None
    assert redact_options(
        [
            "ldapbindpasswd=hunter2",
            "radiussecrets=a,b",
            "map=m",
            "x_secret_y=z",
            "MyPassword=1",
            "issuer=https://u:pw@idp/x",
            "noequals",
        ]
    ) == [
        "ldapbindpasswd=<redacted>",
        "radiussecrets=<redacted>",
        "map=m",
        "x_secret_y=<redacted>",
        "MyPassword=<redacted>",
        "issuer=https://u:<redacted>@idp/x",
        "noequals",
    ]


def test_secrets_never_appear_in_parser_output(tmp_path: Path) -> None:
    text = (
        "local all all trust\n"
        "local all all ldap ldapserver=h ldapbasedn=dc=x ldapbindpasswd=Sec1Value\n"
        "host all all all radius radiusservers=10.0.0.1 radiussecrets=Sec2Value\n"
        'host all all all radius radiusservers=10.0.0.1 radiussecrets="Sec3 Value"\n'
        "local all all ldap ldapserver=h ldapbasedn=dc=x ldapbindpasswd=Sec4,Value\n"
        "host all all all trust ldapbindpasswd=Sec5Value\n"
        "local all all ldap ldapserver=h ldapbasedn=dc=x ldapbindpasswd=Sec6 Value\n"
    )
    rows = parse(tmp_path, text)
    out = json.dumps(rows)
    for secret in ("Sec1", "Sec2", "Sec3", "Sec4", "Sec5", "Sec6", "Value"):
        assert secret not in out
    assert rows[1]["options"] == [
        "ldapserver=h",
        "ldapbasedn=dc=x",
        "ldapbindpasswd=<redacted>",
        "ldapscope=2",
    ]
    assert rows[4]["error"] == "authentication option not in name=value format: <redacted>"
    assert rows[6]["error"] == "authentication option not in name=value format: <redacted>"


# --- bad input -----------------------------------------------------------------------------------
def test_unreadable_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read pg_hba file .*nope.conf") as err:
        parse_hba_file(str(tmp_path / "nope.conf"), 16)
    assert err.value.exit_code == EXIT_USAGE
    with pytest.raises(UsageError, match="is a directory"):
        parse_hba_file(str(tmp_path), 16)


def test_binary_file_is_a_usage_error(tmp_path: Path) -> None:
    p = tmp_path / "blob"
    p.write_bytes(b"local all all trust\nhost all\x00all\n")
    with pytest.raises(UsageError, match=r"blob: line 2: binary content"):
        parse_hba_file(str(p), 16)
    p.write_bytes(b"local all all trust\n\xff\xfe\n")
    with pytest.raises(UsageError, match=r"blob: line 2: not UTF-8"):
        parse_hba_file(str(p), 16)


def test_not_an_hba_file_names_the_line_but_not_its_content(tmp_path: Path) -> None:
    p = tmp_path / "pgpass"
    p.write_text("# comment\ndb.example.com:5432:app:app:TopSecretPw\n", encoding="utf-8")
    with pytest.raises(UsageError) as err:
        parse_hba_file(str(p), 16)
    message = str(err.value)
    assert "pgpass: line 2: not a pg_hba.conf file" in message and "\n" not in message
    assert "TopSecretPw" not in message
    p.write_text("# only comments\n\n", encoding="utf-8")
    with pytest.raises(UsageError, match="no pg_hba rules"):
        parse_hba_file(str(p), 16)


def test_a_broken_hba_file_is_still_an_hba_file(tmp_path: Path) -> None:
    rows = parse(tmp_path, "hostssl all all all cert clientcert=verify-ca\n")
    assert len(rows) == 1 and rows[0]["error"]


def test_unsupported_server_version(tmp_path: Path) -> None:
    (tmp_path / "h").write_text("local all all trust\n", encoding="utf-8")
    with pytest.raises(UsageError, match="13 and later"):
        parse_hba_file(str(tmp_path / "h"), 12)
