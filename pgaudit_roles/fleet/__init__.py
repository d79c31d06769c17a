"""Fleet: many clusters audited in one run (``pgaudit-roles fleet INVENTORY``).

Why a subpackage: the fleet adds an inventory format, a process supervisor, combined
reports and a cross-environment comparison, but no pipeline of its own. Every target goes
through the same ``scan`` pipeline (``pgaudit_roles.pipeline``: collect, evaluate, waivers and
baseline, per-target reports), so a target audited in a fleet gives the findings and
files a single ``scan`` of it gives.

- ``inventory``: the inventory file (TOML targets or a pg_service.conf), ``--select`` and
  ``--shard``;
- ``worker``: one target in a child process (collect, evaluate, write its reports);
- ``runner``: at most ``--parallel`` children at once, per-target timeouts, Ctrl-C;
- ``outcome``: what the fleet knows about each target, and the "not audited" finding;
- ``envdrift``: the same application's roles and privileges across environments;
- ``report_*``: the combined reports (JSON, HTML, JUnit, SARIF, Markdown).
"""
