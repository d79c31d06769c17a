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
"""

from __future__ import annotations

import marshal
import sys
import types
from collections.abc import Callable
from typing import Any

from ..core.usercache import cache_root, key, read, write

SUBDIR = "templates"


def _key(kind: str, source: str) -> str:
    import jinja2

    return key("template", kind, jinja2.__version__, sys.version, source)


def load(env: Any, kind: str, source: str) -> Any | None:
    """The template compiled earlier by ``env`` (of ``kind``), or None."""
    data = read(SUBDIR, _key(kind, source))
    if data is None:
        return None
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
    return env.template_class.from_code(env, code, env.make_globals(None), None)


def cached(env: Any, kind: str, source: str, check: Callable[[], Any] | None = None) -> Any:
    """The template for ``source``: from the cache, else compiled (after ``check()``
    returned a parsed tree, or raised) and stored."""
    hit = load(env, kind, source)
    if hit is not None:
        return hit
    tree = check() if check is not None else source
    return compile_and_store(env, kind, tree, source)


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
    if "self" in row:  # Template.render(self, **row) refuses it: the same TypeError here
        return str(template.render(**row))
    flat = _FLAT_GLOBALS.get(template)
    if flat is None:
        if len(_FLAT_GLOBALS) >= _FLAT_LIMIT:
            _FLAT_GLOBALS.clear()
        flat = _FLAT_GLOBALS[template] = dict(template.globals)
    env = template.environment
    ctx = env.context_class(env, {**flat, **row}, template.name, template.blocks, globals=flat)
    try:
        return str(env.concat(template.root_render_func(ctx)))
    except Exception:  # noqa: BLE001 - re-raised by Jinja2, as Template.render does
        env.handle_exception()
        raise  # pragma: no cover - handle_exception always raises


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
