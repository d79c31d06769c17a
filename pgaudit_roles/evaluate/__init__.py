"""Stage 3, evaluate: rules over the audit schema -> findings.

Rule loading and validation, the engine, remediation SQL, frameworks, waivers, baselines,
configuration and snapshot-to-snapshot drift."""
