"""Write the built-in rules' validation manifest (``rules/validated.json``).

Why apart from ``validated_rules``: the loader (``rules``) consults the manifest, and
writing it means loading every rule in full; keeping the writer here lets both modules
import in one direction. ``python -m pgaudit_roles.evaluate.rule_manifest [--check]``
(``python -m pgaudit_roles.docgen`` runs it too).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .. import __version__
from ..core import resources
from ..core.atomic import atomic_writer
from . import validated_rules
from .rules import load_dir


def render_manifest(rules_dir: Path | None = None) -> str:
    """The manifest for the built-in rule files as they are now, after validating every
    one of them in full (a rule that does not validate raises ``RuleError``: it is never
    listed)."""
    directory = rules_dir or resources.rules_dir()
    load_dir(directory, origin="builtin", full_validation=True)
    files = {
        p.name: validated_rules.digest(p.read_bytes()) for p in sorted(directory.glob("*.toml"))
    }
    doc = {"format": validated_rules.MANIFEST_FORMAT, "version": __version__, "rules": files}
    return json.dumps(doc, indent=1, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Rewrite ``rules/validated.json``; ``--check``: exit 1 when it is not current."""
    args = sys.argv[1:] if argv is None else argv
    path = validated_rules.manifest_path()
    fresh = render_manifest()
    try:
        current = path.read_text(encoding="utf-8")
    except OSError:
        current = ""
    if "--check" in args:
        if fresh != current:
            print(
                f"{path} is stale: run python -m pgaudit_roles.evaluate.rule_manifest "
                "(or python -m pgaudit_roles.docgen)",
                file=sys.stderr,
            )
            return 1
        return 0
    if fresh != current:
        with atomic_writer(path) as fh:
            fh.write(fresh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
