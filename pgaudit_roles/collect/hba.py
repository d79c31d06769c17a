"""Offline pg_hba.conf parser: the rows ``pg_hba_file_rules`` would show, without a server.

Used when the auditor cannot read the view (it is superuser-only by default): the user hands
over a copy of the file (``--hba-file``) and we read it the way PostgreSQL ``server_major``
would, down to the error texts, so that a snapshot built from the file looks like one built
from the view. The reading follows PostgreSQL's own two passes (``hba.c``): a tokenizer that
handles quotes, comments, comma lists, ``@file`` inclusion, backslash continuation (14+) and
the ``include*`` directives (16+), then a per-line parser that validates connection type,
address, method and options and renders options the way the view does (for example an
``ldapurl`` is shown decomposed, ``ldapscope`` as a number).

Output rows carry exactly the snapshot ``hba_rules`` columns.

Token convention: like the view, tokens are stored without their double quotes, except
when the quotes change the meaning. A quoted keyword (``"all"`` is a database or role
literally named *all*; ``"replication"``, ``"sameuser"``, ``"samerole"``, ``"samegroup"`` in
the database field; ``"samehost"``/``"samenet"`` in the address field) or a quoted user name
starting with ``+`` (a role named ``+x``, not a group check) is stored in quoted form: in
double quotes, inner quotes doubled (``"all"``). So that the form stays unambiguous, a name
that itself begins with a double quote is stored in quoted form too (as ``quote_token(name)``
returns it). A stored token starting with ``"`` is therefore always a literal
name; use :func:`token_is_literal` / :func:`unquote_token` to read it. The view itself
cannot make this distinction (it shows ``all`` for both).

Deliberate differences from the view, documented here because the view is the reference:

* A few PostgreSQL code paths reject a line without setting an error text (an invalid
  ``clientcert``/``clientname`` value, an unparsable RADIUS list, a RADIUS port of 0). The
  view then shows a row with nothing but a line (and on 16+ a rule) number, while the server
  refuses to load the file. We report such a line as an error, with the text the server
  writes to its log, and give it no rule number. Secrets are never part of that text.
* What the file cannot tell (build options such as SSL, GSSAPI, LDAP or PAM support, the
  ``ssl`` setting, ``oauth_validator_libraries``) comes from :class:`HbaBuild`; by default we
  assume a typical Linux package build and report nothing that depends on settings.
* RADIUS server names are not resolved (no DNS from an audit) unless asked for.
* ``@file`` nesting on 13-15 is capped at the 16+ depth limit (the old servers recurse until
  they fail).
* Secrets in options (``ldapbindpasswd``, ``radiussecrets``...) are redacted, see
  :func:`redact_options`.
"""

from __future__ import annotations

import errno as errno_mod
import functools
import os
import re
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..core.errors import UsageError

MIN_MAJOR = 13
CONN_TYPES = ("local", "host", "hostssl", "hostnossl", "hostgssenc", "hostnogssenc")
INCLUDE_DIRECTIVES = ("include", "include_if_exists", "include_dir")
DATABASE_KEYWORDS = frozenset({"all", "sameuser", "samerole", "samegroup", "replication"})
USER_KEYWORDS = frozenset({"all"})
ADDRESS_KEYWORDS = frozenset({"all", "samehost", "samenet"})
REDACTED = "<redacted>"
HBA_COLUMNS = (
    "rule_number",
    "file_name",
    "line_number",
    "type",
    "databases",
    "users",
    "address",
    "netmask",
    "auth_method",
    "options",
    "error",
)

_MAX_DEPTH = 10  # CONF_FILE_MAX_DEPTH
_BLANKS = " \t\r"  # pg_isblank()
_SECRET_OPTIONS = frozenset({"ldapbindpasswd", "radiussecrets"})


# --- what the file alone cannot tell ---------------------------------------------------
@dataclass(frozen=True)
class HbaBuild:
    """Server build options and settings that change how a pg_hba line is judged.

    The defaults describe a typical Linux package build (PGDG/Debian: OpenSSL, GSSAPI, LDAP,
    PAM; no BSD auth, no SSPI) and leave setting-dependent checks off (``None`` = unknown).
    """

    ssl: bool = True  # built with SSL support (USE_SSL)
    ssl_enabled: bool | None = None  # the ``ssl`` setting; None = unknown, no error
    gssapi: bool = True  # ENABLE_GSS
    ldap: bool = True  # USE_LDAP (OpenLDAP: ldapurl supported)
    pam: bool = True  # USE_PAM
    bsd: bool = False  # USE_BSD_AUTH (OpenBSD only)
    sspi: bool = False  # ENABLE_SSPI (Windows only)
    db_user_namespace: bool = False  # the ``db_user_namespace`` setting (<= 16)
    oauth_validator_libraries: tuple[str, ...] | None = None  # 18+; None = unknown
    resolve_hostnames: bool = False  # resolve RADIUS server names (DNS) like the server


def build_from_pg_config(
    configure: str, ssl_setting: str | None = None, oauth_validator_libraries: str | None = None
) -> HbaBuild:
    """An :class:`HbaBuild` from ``pg_config``'s CONFIGURE text and the live settings.

    ``configure`` is the ``CONFIGURE`` row of the ``pg_config`` view (or ``pg_config
    --configure``): autoconf flags (``--with-openssl``...) or meson options
    (``-Dssl=openssl``...); an empty text means unknown and keeps the defaults. The
    settings are the values of ``ssl`` and ``oauth_validator_libraries`` as text, or None
    when unknown.
    """
    text = configure.lower()
    libs = None
    if oauth_validator_libraries is not None:
        libs = tuple(p.strip() for p in oauth_validator_libraries.split(",") if p.strip())
    ssl_enabled = (
        None if ssl_setting is None else ssl_setting.strip().lower() in ("on", "true", "1")
    )
    if not text.strip():
        return HbaBuild(ssl_enabled=ssl_enabled, oauth_validator_libraries=libs)

    def has(*flags: str) -> bool:
        return any(re.search(re.escape(f) + r"(?![a-z0-9_-])", text) for f in flags)

    return HbaBuild(
        ssl=has("--with-openssl", "--with-ssl=openssl", "-dssl=openssl"),
        ssl_enabled=ssl_enabled,
        gssapi=has("--with-gssapi", "-dgssapi=enabled"),
        ldap=has("--with-ldap", "-dldap=enabled"),
        pam=has("--with-pam", "-dpam=enabled"),
        bsd=has("--with-bsd-auth", "-dbsd_auth=enabled"),
        oauth_validator_libraries=libs,
    )


# --- public token helpers --------------------------------------------------------------
def quote_token(text: str) -> str:
    """The stored form of a quoted keyword: double quotes, inner quotes doubled."""
    return '"' + text.replace('"', '""') + '"'


def token_is_literal(token: str) -> bool:
    """True for a token stored in quoted form: a literal name, never a keyword or +group."""
    return token.startswith('"')


def unquote_token(token: str) -> str:
    """The name as PostgreSQL compares it (and as the view shows it)."""
    if token_is_literal(token) and len(token) >= 2 and token.endswith('"'):
        return token[1:-1].replace('""', '"')
    return token


# --- secrets -----------------------------------------------------------------------------
# scheme://user:password@host: the password runs to the last "@" before the host part, so
# a password holding "@" or "/" is cut whole (a path holding "@" is cut too: safe side)
_URL_USERINFO = r'(?i)\b([a-z][a-z0-9+.-]*://[^/@:\s"]*):[^\s"]*@(?=[^@\s"/]*(?:[/\s"?]|$))'
_SECRET_ASSIGNMENT = r'(?i)\b([a-z_]*(?:secret|passw)[a-z_]*)(\s*=\s*)("[^"]*"|[^\s,"]+)'


@functools.cache
def _secret_patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """The two patterns above, compiled on first use: only collection redacts (a check of a
    snapshot never does), and compiling them is ~0.5 ms of every process's import."""
    return re.compile(_URL_USERINFO), re.compile(_SECRET_ASSIGNMENT)


def redact_text(text: str | None) -> str | None:
    """A free text (an hba error message, a server error) with credentials cut out: the
    password of every ``scheme://user:password@`` URL and the value of every
    ``...secret...=`` / ``...passw...=`` assignment. PostgreSQL quotes a rejected
    ``ldapurl`` whole in pg_hba_file_rules.error, password included."""
    if text is None:
        return None
    url_userinfo, secret_assignment = _secret_patterns()
    text = url_userinfo.sub(lambda m: f"{m.group(1)}:{REDACTED}@", text)
    return secret_assignment.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)


def is_secret_option(name: str) -> bool:
    """Options whose value is a credential: known ones plus any name with secret/passw."""
    n = name.strip().lower()
    return n in _SECRET_OPTIONS or "secret" in n or "passw" in n


def redact_options(options: Sequence[str] | None) -> list[str] | None:
    """Replace the value of every secret-bearing ``name=value`` option by ``<redacted>``.

    ``ldapbindpasswd`` and ``radiussecrets`` (and any option whose name contains "secret" or
    "passw") lose their value; a password embedded in a URL (``scheme://user:pw@host``) is
    cut out of any other option. Used on view rows and on parsed rows alike, so no snapshot
    ever stores a secret. None stays None (the view's "no options").
    """
    if options is None:
        return None
    url_userinfo = _secret_patterns()[0]
    out: list[str] = []
    for opt in options:
        text = str(opt)
        name, sep, value = text.partition("=")
        if sep and is_secret_option(name):
            out.append(f"{name}={REDACTED}")
        else:
            out.append(url_userinfo.sub(lambda m: f"{m.group(1)}:{REDACTED}@", text))
    return out


# --- tokenizer -----------------------------------------------------------------------------
@dataclass(frozen=True)
class _Token:
    """One field value of a pg_hba line (PostgreSQL's AuthToken)."""

    string: str
    quoted: bool  # a double quote before the first character (AuthToken.quoted)


@dataclass
class _TokLine:
    """One tokenized pg_hba line (PostgreSQL's TokenizedAuthLine): its fields, where it is,
    and the tokenizer's error if any."""

    fields: list[list[_Token]]
    file_name: str
    line_num: int
    err: str | None


def _canonicalize(path: str, major: int) -> str:
    """PostgreSQL's canonicalize_path(): 16+ resolves . and .. anywhere, older only at the end."""
    absolute = path.startswith("/")
    path = re.sub(r"/+", "/", path)
    if len(path) > 1:
        path = path.rstrip("/")
    if major >= 16:
        norm = os.path.normpath(path)
        if absolute and norm.startswith("//"):
            norm = "/" + norm.lstrip("/")
        return norm
    parts = path.split("/")
    pending = 0
    while parts:
        last = parts[-1]
        if last == "." and len(parts) > 1:
            parts.pop()
        elif last == "..":
            parts.pop()
            pending += 1
        elif pending and last:
            parts.pop()
            pending -= 1
        else:
            break
    result = "/".join(parts) if parts else ""
    if absolute and not result:
        result = "/"
    return result or ("/".join([".."] * pending) if pending else ".")


def _absolute_location(location: str, calling_file: str, major: int) -> str:
    if location.startswith("/"):
        return location
    return _canonicalize(os.path.join(os.path.dirname(calling_file), location), major)


class _Reader:
    """Reads files into logical lines the way the server does for one major version."""

    def __init__(self, major: int) -> None:
        self.major = major

    def read_bytes(self, path: str) -> bytes | OSError | None:
        """The file's bytes; an OSError to report; None for a directory (read fails silently)."""
        if os.path.isdir(path):
            return None
        try:
            with open(path, "rb") as fh:
                return fh.read()
        except OSError as exc:
            return exc

    def logical_lines(self, path: str, data: bytes) -> Iterable[tuple[int, str, str | None]]:
        """(line number, text, error) per logical line, continuations joined on 14+."""
        physical: list[bytes] = []  # each with its newline
        start = 0
        while start < len(data):
            end = data.find(b"\n", start)
            end = len(data) if end < 0 else end + 1
            physical.append(data[start:end])
            start = end
        if self.major < 14:
            # no continuation; late 13.x minors (like 14+) have no line length limit
            for number, raw in enumerate(physical, start=1):
                yield number, self._text(path, number, raw.rstrip(b"\r\n")), None
            return
        number = 1
        i = 0
        while i < len(physical):
            buf = physical[i].rstrip(b"\r\n")
            consumed = 1
            last_backslash = 0
            while len(buf) > last_backslash and buf.endswith(b"\\"):
                buf = buf[:-1]
                last_backslash = len(buf)
                consumed += 1
                if i + consumed - 1 >= len(physical):
                    break
                buf += physical[i + consumed - 1].rstrip(b"\r\n")
            yield number, self._text(path, number, buf), None
            number += consumed
            i += consumed

    @staticmethod
    def _text(path: str, line: int, raw: bytes) -> str:
        if b"\x00" in raw:
            raise UsageError(
                f"{path}: line {line}: binary content (NUL byte), not a pg_hba.conf file"
            )
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise UsageError(
                f"{path}: line {line}: not UTF-8 text, not a pg_hba.conf file"
            ) from None


class _Tokenizer:
    """tokenize_auth_file() and friends: lines of fields of tokens, errors per line."""

    def __init__(self, major: int, root: str | None = None) -> None:
        self.major = major
        self.reader = _Reader(major)
        self.recognized_lines = 0  # lines starting with a connection type or directive
        self.root = root  # include/@file outside this directory is not read (None: anywhere)

    def outside(self, full: str) -> str | None:
        """The error for a file outside ``root``: --hba-file never reads other files into
        a report (``include /etc/shadow``, ``@/etc/shadow``, ``include_dir /etc``)."""
        if self.root is None:
            return None
        real = os.path.realpath(full)
        if real == self.root or real.startswith(self.root.rstrip("/") + "/"):
            return None
        return (
            f'could not open file "{full}": outside the directory of the pg_hba file '
            "(not read by pgaudit-roles)"
        )

    # one token ----------------------------------------------------------------------------
    @staticmethod
    def next_token(line: str, pos: int) -> tuple[str, bool, bool, int, bool]:
        """(text, initial_quote, terminating_comma, new position, got a token)."""
        n = len(line)
        while pos < n and (line[pos] in _BLANKS or line[pos] == ","):
            pos += 1
        buf: list[str] = []
        in_quote = was_quote = saw_quote = initial_quote = False
        terminating_comma = False
        while pos < n and (line[pos] not in _BLANKS or in_quote):
            c = line[pos]
            if c == "#" and not in_quote:
                pos = n
                break
            if c == "," and not in_quote:
                terminating_comma = True
                break
            if c != '"' or was_quote:
                buf.append(c)
            if in_quote and c == '"':
                was_quote = not was_quote
            else:
                was_quote = False
            if c == '"':
                in_quote = not in_quote
                saw_quote = True
                if not buf:
                    initial_quote = True
            pos += 1
        return "".join(buf), initial_quote, terminating_comma, pos, saw_quote or bool(buf)

    def next_field(
        self, filename: str, line: str, pos: int, depth: int
    ) -> tuple[list[_Token], int, str | None]:
        tokens: list[_Token] = []
        err: str | None = None
        while True:
            text, initial_quote, comma, pos, got = self.next_token(line, pos)
            if not got:
                break
            if not initial_quote and len(text) > 1 and text[0] == "@":
                err = self.expand_file(tokens, filename, text[1:], depth + 1)
            else:
                tokens.append(_Token(text, initial_quote))
            if not (comma and err is None):
                break
        return tokens, pos, err

    # files -----------------------------------------------------------------------------------
    def open_error(self, path: str, depth: int, exc: OSError | None) -> str:
        if depth > _MAX_DEPTH:
            return f'could not open file "{path}": maximum nesting depth exceeded'
        assert exc is not None
        return f'could not open file "{path}": {os.strerror(exc.errno or errno_mod.EIO)}'

    def expand_file(self, tokens: list[_Token], outer: str, inc: str, depth: int) -> str | None:
        """@file: every token of the named file joins the field. Returns an error or None."""
        full = _absolute_location(inc, outer, self.major)
        if depth > _MAX_DEPTH:
            if self.major >= 16:
                return self.open_error(full, depth, None)
            return (
                f'could not open secondary authentication file "@{inc}" as "{full}": '
                "maximum nesting depth exceeded"
            )
        refused = self.outside(full)
        if refused:
            return refused
        data = self.reader.read_bytes(full)
        if isinstance(data, OSError):
            if self.major >= 16:
                return self.open_error(full, depth, data)
            return (
                f'could not open secondary authentication file "@{inc}" as "{full}": '
                f"{os.strerror(data.errno or errno_mod.EIO)}"
            )
        inc_lines: list[_TokLine] = []
        if data is not None:
            self.tokenize(full, data, inc_lines, depth)
        for tl in inc_lines:
            if tl.err:
                return content_free(tl.err)
            for fld in tl.fields:
                tokens.extend(fld)
        return None

    def include_file(
        self, outer: str, inc: str, out: list[_TokLine], depth: int, missing_ok: bool
    ) -> str | None:
        full = _absolute_location(inc, outer, self.major)
        if depth > _MAX_DEPTH:
            return self.open_error(full, depth, None)
        refused = self.outside(full)
        if refused:
            return refused
        data = self.reader.read_bytes(full)
        if isinstance(data, OSError):
            if missing_ok and data.errno == errno_mod.ENOENT:
                return None
            return self.open_error(full, depth, data)
        if data is not None:
            self.tokenize(full, data, out, depth)
        return None

    def conf_files_in_dir(
        self, includedir: str, calling: str
    ) -> tuple[list[str] | None, str | None]:
        """GetConfFilesInDir(): *.conf files, no dot-files, no directories, sorted by path."""
        if includedir.strip(" \t\r\n") == "":
            return None, "empty configuration directory name"
        directory = _absolute_location(includedir, calling, self.major)
        refused = self.outside(directory)
        if refused:
            return None, refused
        try:
            names = os.listdir(directory)
        except OSError:
            return None, f'could not open directory "{directory}"'
        found: list[str] = []
        for name in names:
            if len(name) < 6 or name.startswith(".") or not name.endswith(".conf"):
                continue
            path = _canonicalize(os.path.join(directory, name), self.major)
            try:
                if os.path.isdir(path):
                    continue
                os.stat(path)
            except OSError:
                return None, f'could not stat file "{path}"'
            found.append(path)
        return sorted(found, key=lambda p: p.encode("utf-8", "surrogateescape")), None

    def tokenize(self, filename: str, data: bytes, out: list[_TokLine], depth: int) -> None:
        for number, text, err in self.reader.logical_lines(filename, data):
            fields: list[list[_Token]] = []
            pos = 0
            while pos < len(text) and err is None:
                fld, pos, err = self.next_field(filename, text, pos, depth)
                if fld:
                    fields.append(fld)
            if not fields and err is None:
                continue
            if fields and fields[0][0].string in CONN_TYPES + INCLUDE_DIRECTIVES:
                self.recognized_lines += 1
            if self.major >= 16 and err is None and len(fields) == 2:
                first, second = fields[0][0].string, fields[1][0].string
                if first == "include":
                    err = self.include_file(filename, second, out, depth + 1, False)
                    if err is None:
                        continue
                elif first == "include_if_exists":
                    err = self.include_file(filename, second, out, depth + 1, True)
                    if err is None:
                        continue
                elif first == "include_dir":
                    files, err = self.conf_files_in_dir(second, filename)
                    if files is not None:
                        errs = [
                            e
                            for e in (
                                self.include_file(filename, f, out, depth + 1, False) for f in files
                            )
                            if e
                        ]
                        if not errs:
                            continue
                        err = "\n".join(errs)
            out.append(_TokLine(fields, filename, number, err))


# --- line parser ------------------------------------------------------------------------------
@dataclass
class _Hba:
    """The parts of PostgreSQL's HbaLine that the view shows or that checks depend on."""

    conntype: str = ""
    databases: list[_Token] = field(default_factory=list)
    roles: list[_Token] = field(default_factory=list)
    ip_cmp: str = ""  # mask | all | samehost | samenet
    address_token: _Token | None = None
    addr: str | None = None
    mask: str | None = None
    hostname: str | None = None
    method: str = ""
    include_realm: bool = False
    krb_realm: str | None = None
    usermap: str | None = None
    clientcert: str | None = None  # None | verify-ca | verify-full
    pamservice: str | None = None
    ldapserver: str | None = None
    ldapport: int = 0
    ldapscheme: str | None = None
    ldaptls: bool = False
    ldapprefix: str | None = None
    ldapsuffix: str | None = None
    ldapbasedn: str | None = None
    ldapbinddn: str | None = None
    ldapbindpasswd: str | None = None
    ldapsearchattribute: str | None = None
    ldapsearchfilter: str | None = None
    ldapscope: int = 0
    radiusservers: list[str] | None = None
    radiussecrets: list[str] | None = None
    radiusports: list[str] | None = None
    radiusidentifiers: list[str] | None = None
    radius_s: dict[str, str] = field(default_factory=dict)
    oauth_issuer: str | None = None
    oauth_scope: str | None = None
    oauth_validator: str | None = None
    oauth_skip_usermap: bool = False


class _Reject(Exception):
    """The line is rejected. ``message`` is the view's error text (None: the view shows none)."""

    def __init__(self, message: str | None, log_message: str | None = None) -> None:
        super().__init__(message or log_message or "")
        self.message = message
        self.log_message = log_message


# Spencer regex error texts (src/include/regex/regerrs.h), keyed by Python's re messages
_REGEX_ERRORS = (
    (
        ("missing ), unterminated subpattern", "unbalanced parenthesis"),
        "parentheses () not balanced",
    ),
    (("unterminated character set",), "brackets [] not balanced"),
    (("nothing to repeat", "multiple repeat"), "quantifier operand invalid"),
    (("bad character range",), "invalid character range"),
    (("bad escape",), "invalid escape \\ sequence"),
    (("min repeat greater than max repeat",), "invalid repetition count(s)"),
    (("invalid group reference",), "invalid backreference number"),
)


def _regex_error(pattern: str) -> str | None:
    """PostgreSQL's ARE compile error for ``pattern``, approximated with Python's re.

    The common mistakes (unbalanced parentheses or brackets, a quantifier with nothing to
    repeat, a bad range or escape) give the server's exact text; rarer differences between
    the two regex dialects may be missed or reported as a generic "invalid regexp".
    """
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            re.compile(pattern)
    except re.error as exc:
        msg = str(exc.msg)
        for needles, text in _REGEX_ERRORS:
            if any(msg.startswith(n) for n in needles):
                return text
        return "invalid regexp (reg version 0.8)"
    except (OverflowError, RecursionError):
        return "regular expression is too complex"
    return None


def _split_guc_list(value: str) -> list[str] | None:
    """SplitGUCList(): comma list, optional double quotes, blanks trimmed; None on bad syntax."""
    out: list[str] = []
    i, n = 0, len(value)
    space = " \t\n\r\f\v"
    while i < n and value[i] in space:
        i += 1
    if i == n:
        return out
    while True:
        if value[i] == '"':
            i += 1
            name: list[str] = []
            while True:
                j = value.find('"', i)
                if j < 0:
                    return None
                name.append(value[i:j])
                if j + 1 < n and value[j + 1] == '"':
                    name.append('"')
                    i = j + 2
                    continue
                i = j + 1
                break
            item = "".join(name)
        else:
            start = i
            while i < n and value[i] != "," and value[i] not in space:
                i += 1
            if i == start:
                return None
            item = value[start:i]
        while i < n and value[i] in space:
            i += 1
        out.append(item)
        if i < n and value[i] == ",":
            i += 1
            while i < n and value[i] in space:
                i += 1
            if i == n:
                return None
        elif i == n:
            return out
        else:
            return None


def _c_atoi(text: str) -> int:
    m = re.match(r"[ \t\n\r\f\v]*([+-]?\d+)", text)
    if not m:
        return 0
    v = int(m.group(1))
    return v if -(2**31) <= v < 2**31 else (v & 0xFFFFFFFF) - (2**32 if v & 0x80000000 else 0)


# OpenLDAP ldap_url_parse() error codes are passed to ldap_err2string() by PostgreSQL,
# which turns them into unrelated LDAP result texts: mirror that.
_LDAP_URL_ERR = {
    3: "Time limit exceeded",
    4: "Size limit exceeded",
    5: "Compare False",
    6: "Compare True",
    7: "Authentication method not supported",
    8: "Strong(er) authentication required",
    9: "Partial results and referral received",
    10: "Referral",
}
_LDAP_SCOPES = {
    "base": 0,
    "one": 1,
    "onelevel": 1,
    "sub": 2,
    "subtree": 2,
    "subord": 3,
    "subordinate": 3,
    "children": 3,
}


def _parse_ldap_url(url: str) -> tuple[dict[str, Any] | None, int]:
    """A subset of OpenLDAP's ldap_url_parse() (historic mode); (parts, error code)."""
    from urllib.parse import unquote

    text = url.strip()
    if text.startswith("<"):
        if not text.endswith(">"):
            return None, 4
        text = text[1:-1]
    if text[:4].upper() == "URL:":
        text = text[4:]
    m = re.match(r"(?i)(ldap|ldaps|ldapi|cldap)://", text)
    if not m:
        return None, 3
    scheme = m.group(1).lower()
    rest = text[m.end() :]
    hostport, slash, tail = rest.partition("/")
    host, port = hostport, ""
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            return None, 6
        host, port = hostport[1:end], hostport[end + 1 :].lstrip(":")
    elif ":" in hostport:
        host, _, port = hostport.rpartition(":")
    if port and not port.isdigit():
        return None, 5
    parts: dict[str, Any] = {
        "scheme": scheme,
        "host": unquote(host) or None,
        "port": int(port) if port else (636 if scheme == "ldaps" else 389),
        "dn": None,
        "attrs": None,
        "scope": 0,
        "filter": None,
    }
    if not slash:
        return parts, 0
    pieces = tail.split("?")
    if len(pieces) > 5:
        return None, 5
    pieces += [""] * (5 - len(pieces))
    parts["dn"] = unquote(pieces[0])
    if pieces[1]:
        parts["attrs"] = [unquote(a) for a in pieces[1].split(",")]
    if pieces[2]:
        scope = _LDAP_SCOPES.get(pieces[2].lower())
        if scope is None:
            return None, 8
        parts["scope"] = scope
    if pieces[3]:
        parts["filter"] = unquote(pieces[3])
    return parts, 0


class _LineParser:
    """parse_hba_line() and parse_hba_auth_opt() for one server version and build."""

    def __init__(self, major: int, build: HbaBuild) -> None:
        self.major = major
        self.build = build

    def parse(self, tl: _TokLine) -> tuple[_Hba | None, str | None]:
        """(parsed line or None, error text or None)."""
        state: dict[str, str | None] = {"err": None}
        try:
            hba = self._parse(tl, state)
        except _Reject as rej:
            return None, rej.message or state["err"] or rej.log_message or "invalid line"
        return hba, state["err"]

    # fields ---------------------------------------------------------------------------------
    def _parse(self, tl: _TokLine, state: dict[str, str | None]) -> _Hba:
        fields = tl.fields
        hba = _Hba()
        if len(fields[0]) > 1:
            raise _Reject("multiple values specified for connection type")
        ctype = fields[0][0].string
        if ctype not in CONN_TYPES:
            raise _Reject(f'invalid connection type "{ctype}"')
        hba.conntype = ctype
        if ctype == "hostssl":
            if not self.build.ssl:
                state["err"] = (
                    "hostssl record cannot match because SSL is not supported by this build"
                )
            elif self.build.ssl_enabled is False:
                state["err"] = "hostssl record cannot match because SSL is disabled"
        elif ctype == "hostgssenc" and not self.build.gssapi:
            state["err"] = (
                "hostgssenc record cannot match because GSSAPI is not supported by this build"
            )

        idx = 1
        if idx >= len(fields):
            raise _Reject("end-of-line before database specification")
        hba.databases = list(fields[idx])
        self._check_regexes(hba.databases)
        idx += 1
        if idx >= len(fields):
            raise _Reject("end-of-line before role specification")
        hba.roles = list(fields[idx])
        self._check_regexes(hba.roles)

        if ctype != "local":
            idx += 1
            if idx >= len(fields):
                raise _Reject("end-of-line before IP address specification")
            idx = self._address(hba, fields, idx)

        idx += 1
        if idx >= len(fields):
            raise _Reject("end-of-line before authentication method")
        if len(fields[idx]) > 1:
            raise _Reject("multiple values specified for authentication type")
        self._method(hba, fields[idx][0].string)

        prev_secret = False  # a secret split by a comma or blank must not surface in the error
        for fld in fields[idx + 1 :]:
            for tok in fld:
                name, sep, val = tok.string.partition("=")
                if not sep:
                    shown = REDACTED if prev_secret else tok.string
                    raise _Reject(f"authentication option not in name=value format: {shown}")
                prev_secret = is_secret_option(name)
                self._option(hba, name, val)

        self._mandatory(hba)
        return hba

    def _check_regexes(self, tokens: list[_Token]) -> None:
        if self.major < 16:
            return
        for tok in tokens:
            if tok.string.startswith("/"):
                err = _regex_error(tok.string[1:])
                if err:
                    raise _Reject(f'invalid regular expression "{tok.string[1:]}": {err}')

    @staticmethod
    def _numeric(host: str) -> tuple[tuple[int, bytes] | None, int, str]:
        """getaddrinfo(AI_NUMERICHOST), as the server calls it: no name lookup happens.

        Returns ((family, packed address) or None, gai error code, gai error text).
        """
        try:
            info = socket.getaddrinfo(host, None, socket.AF_UNSPEC, 0, 0, socket.AI_NUMERICHOST)
        except socket.gaierror as exc:
            return (
                None,
                int(exc.errno or socket.EAI_NONAME),
                str(exc.strerror or _gai_noname_text()),
            )
        except (UnicodeError, ValueError):
            return None, socket.EAI_NONAME, _gai_noname_text()
        family, _, _, _, sockaddr = info[0]
        ip = str(sockaddr[0]).split("%", 1)[0]
        return (family, socket.inet_pton(family, ip)), 0, ""

    def _address(self, hba: _Hba, fields: list[list[_Token]], idx: int) -> int:
        tokens = fields[idx]
        if len(tokens) > 1:
            raise _Reject("multiple values specified for host address")
        tok = tokens[0]
        hba.address_token = tok
        if not tok.quoted and tok.string in ADDRESS_KEYWORDS:
            hba.ip_cmp = tok.string
            return idx
        hba.ip_cmp = "mask"
        text, slash, bits = tok.string.partition("/")
        num, code, reason = self._numeric(text)
        if num is None and code != socket.EAI_NONAME:
            raise _Reject(f'invalid IP address "{text}": {reason}')
        if num is None:
            hba.hostname = text
        else:
            hba.addr = socket.inet_ntop(num[0], num[1])
        if slash:
            if hba.hostname is not None:
                raise _Reject(f'specifying both host name and CIDR mask is invalid: "{tok.string}"')
            assert num is not None
            mask = self._cidr_mask(bits, num[0])
            if mask is None:
                raise _Reject(f'invalid CIDR mask in address "{tok.string}"')
            hba.mask = mask
            return idx
        if hba.hostname is not None:
            return idx
        assert num is not None
        idx += 1
        if idx >= len(fields):
            raise _Reject("end-of-line before netmask specification")
        if len(fields[idx]) > 1:
            raise _Reject("multiple values specified for netmask")
        mtext = fields[idx][0].string
        mnum, _, mreason = self._numeric(mtext)
        if mnum is None:
            raise _Reject(f'invalid IP mask "{mtext}": {mreason}')
        hba.mask = socket.inet_ntop(mnum[0], mnum[1])
        if mnum[0] != num[0]:
            raise _Reject("IP address and mask do not match")
        return idx

    @staticmethod
    def _cidr_mask(bits: str, family: int) -> str | None:
        """pg_sockaddr_cidr_mask(): strtol() semantics, 0..32 or 0..128."""
        m = re.fullmatch(r"[ \t\n\r\f\v]*([+-]?\d+)", bits)
        if not bits or not m:
            return None
        n = int(m.group(1))
        width = 32 if family == socket.AF_INET else 128
        if n < 0 or n > width:
            return None
        value = ((1 << width) - 1) ^ ((1 << (width - n)) - 1)
        return socket.inet_ntop(family, value.to_bytes(width // 8, "big"))

    def _method(self, hba: _Hba, method: str) -> None:
        b = self.build
        supported = {
            "trust": True,
            "ident": True,
            "peer": True,
            "password": True,
            "gss": b.gssapi,
            "sspi": b.sspi,
            "reject": True,
            "md5": True,
            "scram-sha-256": True,
            "pam": b.pam,
            "bsd": b.bsd,
            "ldap": b.ldap,
            "cert": b.ssl,
            "radius": True,
        }
        if self.major >= 18:
            supported["oauth"] = True
        if method not in supported:
            raise _Reject(f'invalid authentication method "{method}"')
        if method == "md5" and b.db_user_namespace and self.major <= 16:
            raise _Reject('MD5 authentication is not supported when "db_user_namespace" is enabled')
        if not supported[method]:
            raise _Reject(f'invalid authentication method "{method}": not supported by this build')
        if hba.conntype == "local" and method == "ident":
            method = "peer"
        hba.method = method
        if hba.conntype == "local" and method == "gss":
            raise _Reject("gssapi authentication is not supported on local sockets")
        if hba.conntype != "local" and method == "peer":
            raise _Reject("peer authentication is only supported on local sockets")
        if hba.conntype != "hostssl" and method == "cert":
            raise _Reject("cert authentication is only supported on hostssl connections")
        if method in ("gss", "sspi"):
            hba.include_realm = True

    # options -------------------------------------------------------------------------------
    def _only(self, hba: _Hba, name: str, methods: Sequence[str], label: str) -> None:
        if hba.method not in methods:
            raise _Reject(
                f'authentication option "{name}" is only valid for authentication methods {label}'
            )

    def _option(self, hba: _Hba, name: str, val: str) -> None:
        if self.build.ldap:
            hba.ldapscope = 2  # LDAP_SCOPE_SUBTREE, set on every option (as the server does)
        if name == "map":
            allowed = ["ident", "peer", "gss", "sspi", "cert"]
            label = "ident, peer, gssapi, sspi, and cert"
            if self.major >= 18:
                allowed.append("oauth")
                label = "ident, peer, gssapi, sspi, cert, and oauth"
            self._only(hba, name, allowed, label)
            hba.usermap = val
        elif name == "clientcert":
            self._clientcert(hba, val)
        elif name == "clientname" and self.major >= 14:
            if hba.conntype != "hostssl":
                raise _Reject('clientname can only be configured for "hostssl" rows')
            if val not in ("CN", "DN"):
                raise _Reject(None, f'invalid value for clientname: "{val}"')
        elif name == "pamservice":
            self._only(hba, name, ["pam"], "pam")
            hba.pamservice = val
        elif name == "pam_use_hostname":
            self._only(hba, name, ["pam"], "pam")
        elif name == "ldapurl":
            self._only(hba, name, ["ldap"], "ldap")
            self._ldapurl(hba, val)
        elif name == "ldaptls":
            self._only(hba, name, ["ldap"], "ldap")
            hba.ldaptls = val == "1"
        elif name == "ldapscheme":
            self._only(hba, name, ["ldap"], "ldap")
            hba.ldapscheme = val  # an invalid value is only logged by the server
        elif name == "ldapport":
            self._only(hba, name, ["ldap"], "ldap")
            hba.ldapport = _c_atoi(val)
            if hba.ldapport == 0:
                raise _Reject(f'invalid LDAP port number: "{val}"')
        elif name in (
            "ldapserver",
            "ldapbinddn",
            "ldapbindpasswd",
            "ldapsearchattribute",
            "ldapsearchfilter",
            "ldapbasedn",
            "ldapprefix",
            "ldapsuffix",
        ):
            self._only(hba, name, ["ldap"], "ldap")
            setattr(hba, name, val)
        elif name == "krb_realm":
            self._only(hba, name, ["gss", "sspi"], "gssapi and sspi")
            hba.krb_realm = val
        elif name == "include_realm":
            self._only(hba, name, ["gss", "sspi"], "gssapi and sspi")
            hba.include_realm = val == "1"
        elif name in ("compat_realm", "upn_username"):
            self._only(hba, name, ["sspi"], "sspi")
        elif name in ("radiusservers", "radiusports", "radiussecrets", "radiusidentifiers"):
            self._only(hba, name, ["radius"], "radius")
            self._radius(hba, name, val)
        elif self.major >= 18 and name in (
            "issuer",
            "scope",
            "validator",
            "delegate_ident_mapping",
        ):
            self._only(hba, name, ["oauth"], "oauth")
            if name == "issuer":
                hba.oauth_issuer = val
            elif name == "scope":
                hba.oauth_scope = val
            elif name == "validator":
                hba.oauth_validator = val
            else:
                hba.oauth_skip_usermap = val == "1"
        else:
            raise _Reject(f'unrecognized authentication option name: "{name}"')

    def _clientcert(self, hba: _Hba, val: str) -> None:
        if hba.conntype != "hostssl":
            raise _Reject('clientcert can only be configured for "hostssl" rows')
        full = {"verify-full"}
        ca = {"verify-ca"} | ({"1"} if self.major < 14 else set())
        off = {"0", "no-verify"} if self.major < 14 else set()
        if val in full:
            hba.clientcert = "verify-full"
        elif val in ca:
            if hba.method == "cert" and self.major >= 14:
                raise _Reject(
                    'clientcert can only be set to "verify-full" when using "cert" authentication'
                )
            hba.clientcert = "verify-ca"
        elif val in off:
            if hba.method == "cert":
                raise _Reject(
                    'clientcert cannot be set to "no-verify" when using "cert" authentication'
                )
            hba.clientcert = None
        else:
            raise _Reject(None, f'invalid value for clientcert: "{val}"')

    def _ldapurl(self, hba: _Hba, val: str) -> None:
        parts, code = _parse_ldap_url(val)
        if parts is None:
            raise _Reject(
                f'could not parse LDAP URL "{val}": {_LDAP_URL_ERR.get(code, "Unknown error")}'
            )
        if parts["scheme"] not in ("ldap", "ldaps"):
            raise _Reject(f"unsupported LDAP URL scheme: {parts['scheme']}")
        hba.ldapscheme = parts["scheme"]
        if parts["host"]:
            hba.ldapserver = parts["host"]
        hba.ldapport = parts["port"]
        if parts["dn"] is not None:
            hba.ldapbasedn = parts["dn"]
        if parts["attrs"]:
            hba.ldapsearchattribute = parts["attrs"][0]
        hba.ldapscope = parts["scope"]
        if parts["filter"] is not None:
            hba.ldapsearchfilter = parts["filter"]

    def _radius(self, hba: _Hba, name: str, val: str) -> None:
        items = _split_guc_list(val)
        what = {
            "radiusservers": "server",
            "radiusports": "port",
            "radiussecrets": "secret",
            "radiusidentifiers": "identifiers",
        }[name]
        if items is None:
            shown = REDACTED if name == "radiussecrets" else val
            if name == "radiusports":
                raise _Reject(f'invalid RADIUS port number: "{val}"')
            raise _Reject(None, f'could not parse RADIUS {what} list "{shown}"')
        if name == "radiusservers" and self.build.resolve_hostnames:
            for host in items:
                try:
                    socket.getaddrinfo(host, None, socket.AF_UNSPEC, socket.SOCK_DGRAM)
                except (socket.gaierror, UnicodeError) as exc:
                    reason = getattr(exc, "strerror", None) or str(exc)
                    raise _Reject(
                        None,
                        f'could not translate RADIUS server name "{host}" to address: {reason}',
                    ) from None
        if name == "radiusports":
            for port in items:
                if _c_atoi(port) == 0:
                    raise _Reject(None, f'invalid RADIUS port number: "{val}"')
        setattr(hba, name, items or None)
        hba.radius_s[name] = val

    def _mandatory(self, hba: _Hba) -> None:
        if hba.method == "ldap":
            if hba.ldapprefix or hba.ldapsuffix:
                if (
                    hba.ldapbasedn
                    or hba.ldapbinddn
                    or hba.ldapbindpasswd
                    or hba.ldapsearchattribute
                    or hba.ldapsearchfilter
                ):
                    if self.major >= 18:
                        raise _Reject("cannot mix options for simple bind and search+bind modes")
                    raise _Reject(
                        "cannot use ldapbasedn, ldapbinddn, ldapbindpasswd, "
                        "ldapsearchattribute, ldapsearchfilter, or ldapurl together "
                        "with ldapprefix"
                    )
            elif not hba.ldapbasedn:
                raise _Reject(
                    'authentication method "ldap" requires argument "ldapbasedn", '
                    '"ldapprefix", or "ldapsuffix" to be set'
                )
            if hba.ldapsearchattribute and hba.ldapsearchfilter:
                raise _Reject("cannot use ldapsearchattribute together with ldapsearchfilter")
        if hba.method == "radius":
            for arg in ("radiusservers", "radiussecrets"):
                if getattr(hba, arg) is None:
                    raise _Reject(
                        f'authentication method "radius" requires argument "{arg}" to be set'
                    )
            n = len(hba.radiusservers or [])
            for arg, label, may_be_empty in (
                ("radiussecrets", "secrets", False),
                ("radiusports", "ports", True),
                ("radiusidentifiers", "identifiers", True),
            ):
                k = len(getattr(hba, arg) or [])
                if not ((may_be_empty and k == 0) or k == 1 or k == n):
                    raise _Reject(
                        f"the number of RADIUS {label} ({k}) must be 1 or the same as "
                        f"the number of RADIUS servers ({n})"
                    )
        if hba.method == "cert":
            hba.clientcert = "verify-full"
        if hba.method == "oauth":
            for arg, attr in (("scope", "oauth_scope"), ("issuer", "oauth_issuer")):
                if getattr(hba, attr) is None:
                    raise _Reject(
                        f'authentication method "oauth" requires argument "{arg}" to be set'
                    )
            self._oauth_validator(hba)
            if hba.oauth_skip_usermap and hba.usermap is not None:
                raise _Reject("map cannot be used in combination with delegate_ident_mapping")

    def _oauth_validator(self, hba: _Hba) -> None:
        libs = self.build.oauth_validator_libraries
        if libs is None:
            return
        if not libs:
            raise _Reject("oauth_validator_libraries must be set for authentication method oauth")
        if hba.oauth_validator is None:
            if len(libs) == 1:
                hba.oauth_validator = libs[0]
                return
            raise _Reject(
                'authentication method "oauth" requires argument "validator" to be set '
                "when oauth_validator_libraries contains multiple options"
            )
        if hba.oauth_validator not in libs:
            raise _Reject(
                f'validator "{hba.oauth_validator}" is not permitted by oauth_validator_libraries'
            )


_NONAME_TEXT: list[str] = []


def _gai_noname_text() -> str:
    """gai_strerror(EAI_NONAME) from the C library (a numeric-only lookup: no network)."""
    if not _NONAME_TEXT:
        text = "Name or service not known"
        try:
            socket.getaddrinfo("not-numeric", None, socket.AF_UNSPEC, 0, 0, socket.AI_NUMERICHOST)
        except socket.gaierror as exc:
            text = str(exc.strerror or text)
        _NONAME_TEXT.append(text)
    return _NONAME_TEXT[0]


# --- rendering like the view --------------------------------------------------------------------
def _render_token(tok: _Token, keywords: frozenset[str], plus_literal: bool = False) -> str:
    """The stored form of a token (see the module docstring for the quoting convention)."""
    special = tok.string in keywords or (plus_literal and tok.string.startswith("+"))
    if (tok.quoted and special) or tok.string.startswith('"'):
        return quote_token(tok.string)
    return tok.string


def _options(hba: _Hba) -> list[str] | None:
    """get_hba_options(): the view's fixed order and formatting."""
    out: list[str] = []
    if hba.method in ("gss", "sspi"):
        if hba.include_realm:
            out.append("include_realm=true")
        if hba.krb_realm is not None:
            out.append(f"krb_realm={hba.krb_realm}")
    if hba.usermap is not None:
        out.append(f"map={hba.usermap}")
    if hba.clientcert is not None:
        out.append(f"clientcert={hba.clientcert}")
    if hba.pamservice is not None:
        out.append(f"pamservice={hba.pamservice}")
    if hba.method == "ldap":
        for name in (
            "ldapserver",
            "ldapport",
            "ldapscheme",
            "ldaptls",
            "ldapprefix",
            "ldapsuffix",
            "ldapbasedn",
            "ldapbinddn",
            "ldapbindpasswd",
            "ldapsearchattribute",
            "ldapsearchfilter",
            "ldapscope",
        ):
            value = getattr(hba, name)
            if value is None or value is False or value == 0 and name in ("ldapport", "ldapscope"):
                continue
            out.append(f"{name}=true" if value is True else f"{name}={value}")
    if hba.method == "radius":
        for name in ("radiusservers", "radiussecrets", "radiusidentifiers", "radiusports"):
            if name in hba.radius_s:
                out.append(f"{name}={hba.radius_s[name]}")
    if hba.method == "oauth":
        if hba.oauth_issuer is not None:
            out.append(f"issuer={hba.oauth_issuer}")
        if hba.oauth_scope is not None:
            out.append(f"scope={hba.oauth_scope}")
        if hba.oauth_validator is not None:
            out.append(f"validator={hba.oauth_validator}")
        if hba.oauth_skip_usermap:
            out.append("delegate_ident_mapping=true")
    return redact_options(out) if out else None


def _row(
    rule_number: int | None, tl: _TokLine, hba: _Hba | None, err: str | None
) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(HBA_COLUMNS)
    row.update(rule_number=rule_number, file_name=tl.file_name, line_number=tl.line_num, error=err)
    if hba is None:
        return row
    row["type"] = hba.conntype
    row["databases"] = [_render_token(t, DATABASE_KEYWORDS) for t in hba.databases] or None
    row["users"] = [_render_token(t, USER_KEYWORDS, plus_literal=True) for t in hba.roles] or None
    if hba.ip_cmp == "mask":
        if hba.hostname is not None:
            row["address"] = hba.hostname
        else:
            row["address"], row["netmask"] = hba.addr, hba.mask
    elif hba.ip_cmp:
        row["address"] = hba.ip_cmp
    if hba.hostname is not None and hba.address_token is not None:
        row["address"] = _render_token(
            _Token(hba.hostname, hba.address_token.quoted), ADDRESS_KEYWORDS
        )
    row["auth_method"] = hba.method
    row["options"] = _options(hba)
    return row


# --- entry point ---------------------------------------------------------------------------------
def parse_hba_file(
    path: str, server_major: int, *, build: HbaBuild | None = None
) -> list[dict[str, Any]]:
    """Rows of the snapshot ``hba_rules`` table, as PostgreSQL ``server_major`` reads ``path``.

    Every tokenized line gives one row in file order (included files in place); valid lines
    get ``rule_number`` 1, 2, ... in evaluation order, error lines get ``error`` and no rule
    number. Raises UsageError (one line, naming the file and line) when the file cannot be
    read, holds binary or non-UTF-8 data, or has no line that starts like a pg_hba rule.
    """
    if not isinstance(server_major, int) or server_major < MIN_MAJOR:
        raise UsageError(
            f"pg_hba parsing supports PostgreSQL {MIN_MAJOR} and later, not {server_major!r}"
        )
    build = build or HbaBuild()
    top = _canonicalize(os.path.abspath(path), max(server_major, 16))
    if os.path.isdir(top):
        raise UsageError(f"cannot read pg_hba file {path}: it is a directory")
    try:
        with open(top, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise UsageError(f"cannot read pg_hba file {path}: {exc.strerror or exc}") from None
    tokenizer = _Tokenizer(server_major, root=os.path.dirname(os.path.realpath(top)))
    lines: list[_TokLine] = []
    tokenizer.tokenize(top, data, lines, 0)
    if not lines:
        raise UsageError(f"{path}: no pg_hba rules in the file (empty or only comments)")
    if tokenizer.recognized_lines == 0:
        raise UsageError(
            f"{path}: line {lines[0].line_num}: not a pg_hba.conf file "
            "(no line starts with local, host, hostssl, hostnossl, hostgssenc, "
            "hostnogssenc or include)"
        )
    parser = _LineParser(server_major, build)
    rows: list[dict[str, Any]] = []
    rule_number = 0
    for tl in lines:
        hba, err = (None, tl.err) if tl.err is not None else parser.parse(tl)
        if err is None:
            rule_number += 1
        elif tl.file_name != top:  # a line of an included file: its error, not its content
            err = content_free(err)
        rows.append(_row(rule_number if err is None else None, tl, hba, redact_text(err)))
    return rows


_CONTENT_AFTER_COLON = (
    "authentication option not in name=value format:",
    "unsupported LDAP URL scheme:",
)


def content_free(error: str) -> str:
    """An error text with the line's own words removed (quoted fragments and the token
    after a few known prefixes), for lines of files reached by include or @: a file that
    is not pg_hba (``include /etc/shadow``) must not have its lines copied into reports.
    Paths in "could not open file" errors are kept: they are ours, not the file's."""
    if error.startswith(
        (
            "could not open file",
            "could not open directory",
            "could not open secondary authentication file",
        )
    ):
        return error
    for prefix in _CONTENT_AFTER_COLON:
        if error.startswith(prefix):
            return f"{prefix} (content not shown)"
    return re.sub(r'"[^"]*"', '"(not shown)"', error)
