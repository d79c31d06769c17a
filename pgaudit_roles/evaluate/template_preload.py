"""The templates a rule phase will render, loaded before it starts.

Why: a live scan's evaluation starts while a forked child collects, and this process has
time then (``pipeline.EvaluationStart``); what the rule phase would do on the way (read
the template set, build the templates, 41 for the small preset, and PostgreSQL's parser's
first call) can be done by then. A module of its own because it needs ``messages``,
``remediation`` and ``template_cache``, which ``template_cache`` must not import.
"""

from __future__ import annotations

import contextlib

from . import messages, remediation, template_cache


def preload() -> None:
    """Load every template of the set (``template_cache.session``) into this process's
    template caches, as the rule phase would load it (a remediation template through the
    cache of its safety analysis: the set holds analysed ones only), and start
    PostgreSQL's parser. A template that cannot be loaded is left for the rule phase to
    meet again; nothing here changes what the rule phase finds."""
    from pglast.parser import parse_sql_json

    with contextlib.suppress(Exception):
        parse_sql_json("SELECT")  # the parser's first call sets it up
    with template_cache.session():
        for entry in list(template_cache.session_entries()):
            with contextlib.suppress(Exception):
                kind, source = entry
                if kind == "message":
                    messages.compiled(source)
                elif kind == "remediation":
                    remediation.analysed(source)
