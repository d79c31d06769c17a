"""Finding messages: each rule's ``message`` is a Jinja2 template over its result row.

Why a module of its own: the rule loader validates the templates and the engine renders
them; both need the one sandboxed environment, and neither should import the other.
Jinja2 is imported on first use (the CLI starts without it).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from . import template_cache


@functools.cache
def template_env() -> Any:
    """Sandboxed Jinja2 environment for message templates (plain text, strict names)."""
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    return ImmutableSandboxedEnvironment(
        undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False
    )


@functools.cache
def _compiled(template: str) -> Any:
    # compiled once per template text, kept between runs
    return template_cache.cached(template_env(), "message", template)


def compiled(template: str) -> None:
    """Load (or compile) the message template now, as :func:`render_message` would
    (``template_preload``)."""
    _compiled(template)


def render_message(template: str, row: Mapping[str, Any]) -> str:
    return renderer(template)(row)


def renderer(template: str) -> Callable[[Mapping[str, Any]], str]:
    """:func:`render_message` of ``template`` as a function of the row (the engine renders
    a rule's message for each of its findings). Compiles the template now: raises what
    rendering would."""
    render = template_cache.renderer(_compiled(template))

    def render_row(row: Mapping[str, Any]) -> str:
        return render(row if isinstance(row, dict) else dict(row)).strip()

    return render_row
