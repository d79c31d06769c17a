"""``lint``: role and privilege mistakes in SQL migrations, found before they run.

Two layers, one findings model (see ``run``):

- the statement layer (``source`` reads and parses the files with pglast, ``checks`` holds
  the predicates the ``rules/PGR-LINT-*.toml`` rules name, ``statements`` applies them): no
  server, fast enough for a pre-commit hook;
- the effect layer (``effect``): the migrations applied one statement at a time to a twin
  cluster, the whole rule catalogue evaluated, and each new finding attributed to the
  statement that introduced it.

``order`` decides the order of a migration directory (Flyway, golang-migrate, dbmate,
sqitch, Liquibase formatted SQL, else natural sort); ``outputs`` writes the compiler-style
text and GitHub annotation formats, the other formats are the scan reporters'.
"""
