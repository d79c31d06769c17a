"""Compiled Jinja2 templates (rule messages and remediations) kept between runs.

Why: Jinja2 turns each template into Python source and compiles it; for the 50-odd
templates a scan with findings renders that is 0.2-0.3 s of CPU, in every run, for text
that changes only with the rule files. The compiled code object is stored (``marshal``,
like Python's own ``__pycache__``) in the user's cache directory (``usercache``) under a
key of the template text, which environment compiled it, the Python and Jinja2 versions
and our code; it is loaded with ``Template.from_code``, the path Jinja2's own bytecode
cache takes. A remediation template is stored only after it passed the safety analysis
of ``remediation`` (quoting filters), so a stored entry also records that analysis; one
that fails is analysed again at every run and fails the same way.

Within a :func:`session` (the rule phase of an evaluation) the templates come from one
entry instead, the set of every template such sessions used (see :func:`session`).
"""

from __future__ import annotations

import contextlib
import marshal
import sys
import types
from collections.abc import Callable, Iterator
from typing import Any

from ..core.usercache import cache_root, key, read, write

SUBDIR = "templates"


def _key(kind: str, source: str) -> str:
    import jinja2

    return key("template", kind, jinja2.__version__, sys.version, source)


def load(env: Any, kind: str, source: str) -> Any | None:
    """The template compiled earlier by ``env`` (of ``kind``), or None."""
    current = _session
    if current is not None:
        stored = current.entries.get((kind, source))
        if stored is not None:
            template = _template(env, stored)
            if template is not None:
                current.used.add((kind, source))
                return template
    data = read(SUBDIR, _key(kind, source))
    if data is None:
        return None
    template = _template(env, data)
    if template is not None and current is not None:
        current.added[(kind, source)] = data
    return template


def _template(env: Any, data: Any) -> Any | None:
    """The template of a stored code object, or None for an entry that is not one."""
    try:
        code = marshal.loads(data)
    except (EOFError, ValueError, TypeError):
        return None
    if not isinstance(code, types.CodeType):  # a damaged entry is a miss
        return None
    return env.template_class.from_code(env, code, env.make_globals(None), None)


def compile_and_store(env: Any, kind: str, source: Any, text: str) -> Any:
    """Compile ``source`` (text or a parsed tree of ``text``) with ``env``, store the
    code for ``text``, and return the template."""
    code = env.compile(source)
    try:
        data = marshal.dumps(code)
    except ValueError:  # pragma: no cover - code objects always marshal
        data = None
    if data is not None:
        write(SUBDIR, _key(kind, text), data)
        if _session is not None:
            _session.added[(kind, text)] = data
    return env.template_class.from_code(env, code, env.make_globals(None), None)


def cached(env: Any, kind: str, source: str, check: Callable[[], Any] | None = None) -> Any:
    """The template for ``source``: from the cache, else compiled (after ``check()``
    returned a parsed tree, or raised) and stored."""
    hit = load(env, kind, source)
    if hit is not None:
        return hit
    tree = check() if check is not None else source
    return compile_and_store(env, kind, tree, source)


# --- one entry for the templates of a rule phase -------------------------------------------

SET_SUBDIR = "template-sets"
SET_LIMIT = 256
"""Templates kept in the set entry at most; past it the set starts again from those of the
session that stores it (templates are rule texts: only edited rule files add new ones).
The built-in rules have 131 (85 messages, 46 fixes); an entry is about 2.5 kB, and every
run reads the whole set."""


class _Session:
    """The set entry (``entries``, read when first needed: a session whose templates are
    all in this process's caches already never reads it), which of them were used, and
    the templates the session compiled or read one by one (``added``), each
    ``(kind, source) -> code``."""

    def __init__(self) -> None:
        self._entries: dict[Any, Any] | None = None
        self.used: set[tuple[str, str]] = set()
        self.added: dict[tuple[str, str], bytes] = {}

    @property
    def entries(self) -> dict[Any, Any]:
        if self._entries is None:
            self._entries = _read_set()
        return self._entries


_session: _Session | None = None


def _set_name() -> str:
    import jinja2

    return key("template-set", jinja2.__version__, sys.version)


def _read_set() -> dict[Any, Any]:
    """The stored set, or {} when it is missing or is not one (a damaged set is a miss)."""
    data = read(SET_SUBDIR, _set_name())
    if data is None:
        return {}
    try:
        value = marshal.loads(data)
    except (EOFError, ValueError, TypeError):
        return {}
    return value if isinstance(value, dict) else {}  # an entry not code: load's miss


@contextlib.contextmanager
def session() -> Iterator[None]:
    """Load the templates used inside from one cache entry, and store there the ones that
    were not in it.

    Why: a scan's rule phase loads each message and remediation template it renders (41
    for the bench's small preset, 58 for the demo); one by one, each cost a cache key, the
    cache directory's path (platformdirs), a file opened and read: with the set, the main
    thread's CPU in the rule phase of an evaluation went from 36 to 28 ms (small) and from
    27 to 19 ms (demo). The set holds every template such sessions loaded, under the same
    version, code and Jinja2/Python keys as the single entries; each is the code of its
    single entry (a remediation template is stored only once it passed the safety
    analysis, so the set only holds analysed ones). A template not in the set is loaded as
    before (its own entry, or compiled) and added to the set when the session ends. A
    nested session is part of the outer one; outside a session nothing changes."""
    global _session
    if _session is not None:
        yield
        return
    _session = current = _Session()
    try:
        yield
    finally:
        _session = None
        if current.added:
            with contextlib.suppress(OSError, ValueError, TypeError):  # only a cache
                _store_set(current)


def session_entries() -> list[Any]:
    """The keys of the set, read by the current session (none outside one)."""
    return list(_session.entries) if _session is not None else []


def _store_set(current: _Session) -> None:
    """Add the session's new templates to the set as it is now (another run may have
    stored its own meanwhile); past :data:`SET_LIMIT`, keep this session's only."""
    merged = {**_read_set(), **current.added}
    if len(merged) > SET_LIMIT:
        merged = {k: v for k, v in current.entries.items() if k in current.used}
        merged.update(current.added)
    write(SET_SUBDIR, _set_name(), marshal.dumps(merged))


_FLAT_GLOBALS: dict[Any, dict[str, Any]] = {}
"""Each rendered template's globals as a plain dict (see :func:`render`); bounded like
``rule_queries.PARSED_LIMIT``: templates are rule texts, never data."""
_FLAT_LIMIT = 1024


def render(template: Any, row: dict[str, Any]) -> str:
    """``template.render(**row)``, without flattening the template's globals for every row.

    Why: ``Template.render`` builds each row's context from ``dict(globals, **row)`` and
    ``set(globals)``, where ``globals`` is a ``ChainMap`` (the template's over the
    environment's) that Python walks key by key: a fifth of the cost of rendering a finding's
    message or fix. The globals of a template never change once it is built (our
    environments are set up before the first template and never touched again), so the
    flattened dict is computed once; the context gets the same parent mapping (globals,
    then the row's values over them) and the same global names, and the render runs the
    same ``root_render_func`` with the same error handling as ``Template.render``
    (``tests/test_template_cache.py`` compares the two)."""
    return renderer(template)(row)


def _flat_globals(template: Any) -> dict[str, Any]:
    flat = _FLAT_GLOBALS.get(template)
    if flat is None:
        if len(_FLAT_GLOBALS) >= _FLAT_LIMIT:
            _FLAT_GLOBALS.clear()
        flat = _FLAT_GLOBALS[template] = dict(template.globals)
    return flat


def renderer(template: Any) -> Callable[[dict[str, Any]], str]:
    """:func:`render` of ``template`` as a function of the row: what does not depend on the
    row (the flattened globals, the environment's context class, the template's render
    function) is looked up once, for a rule's thousands of findings.

    The rows also share one context object (:func:`_reusable`): before each render it gets
    what ``Context.__init__`` would give it (the row's parent mapping, empty ``vars``,
    ``exported_vars`` and ``blocks``, a fresh eval context if the last render changed
    its own), for half the cost of a new one (0.7 against 1.5 us, 93,000 renders at the
    bench's large preset). ``tests/test_finding_paths.py`` compares it with
    ``Template.render`` over many rows."""
    from jinja2.runtime import Context

    flat = _flat_globals(template)
    env = template.environment
    context_class = env.context_class
    name = template.name
    blocks = template.blocks
    root = template.root_render_func
    concat = env.concat
    handle_exception = env.handle_exception
    shared = context_class(env, {}, name, blocks, globals=flat)
    reuse = not blocks and type(shared) is Context and shared.__dict__.keys() == _CONTEXT_STATE
    eval_ctx = shared.eval_ctx
    pristine = dict(eval_ctx.__dict__)
    eval_context_class = type(eval_ctx)

    def render_row(row: dict[str, Any]) -> str:
        nonlocal eval_ctx
        if "self" in row:  # Template.render(self, **row) refuses it: the same TypeError here
            return str(template.render(**row))
        if reuse:
            ctx = shared
            ctx.parent = {**flat, **row}
            ctx.vars = {}
            ctx.exported_vars = set()
            ctx.blocks = {}
            if ctx.eval_ctx is not eval_ctx or eval_ctx.__dict__ != pristine:
                eval_ctx = ctx.eval_ctx = eval_context_class(env, name)
        else:
            ctx = context_class(env, {**flat, **row}, name, blocks, globals=flat)
        try:
            return str(concat(root(ctx)))
        except Exception:  # noqa: BLE001 - re-raised by Jinja2, as Template.render does
            handle_exception()
            raise  # pragma: no cover - handle_exception always raises

    return render_row


_CONTEXT_STATE = frozenset(
    {"parent", "vars", "environment", "eval_ctx", "exported_vars", "name", "globals_keys", "blocks"}
)
"""What ``jinja2.runtime.Context.__init__`` sets (Jinja2 3.1): a context with anything
else is not shared between rows (a newer Jinja2 may keep more per render)."""


def bytecode_cache(name: str, *config: str | bytes) -> Any:
    """A Jinja2 bytecode cache for a loader-based environment (the HTML report's), in
    ``<user cache>/jinja-<name>-<key>``: Jinja2 keys each entry by template name and
    source, and ``config`` (what else shapes the compiled code: the environment's options,
    given as the source of the module that builds it) plus our code pick the directory.
    Reading or writing it never fails a render."""
    import jinja2

    directory = cache_root() / f"jinja-{name}-{key(name, *config)[:16]}"

    class QuietCache(jinja2.FileSystemBytecodeCache):
        def load_bytecode(self, bucket: Any) -> None:
            try:
                super().load_bytecode(bucket)
            except (OSError, ValueError, EOFError, TypeError):
                bucket.reset()

        def dump_bytecode(self, bucket: Any) -> None:
            try:
                directory.mkdir(parents=True, exist_ok=True)
                super().dump_bytecode(bucket)
            except OSError:
                return

    return QuietCache(str(directory))
