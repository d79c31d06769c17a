"""psql's ``\\if`` / ``\\elif`` / ``\\else`` / ``\\endif``: which branches of a migration run.

Why: psql runs one branch of each block, and reading a file as if every branch ran made
lint report (and the twin apply) both ``CREATE ROLE`` and the ``ALTER ROLE`` meant
instead of it. What is decided here, per branch:

- a condition known before the run (a boolean word, or a variable ``\\set`` earlier in
  the migrations that no ``\\gset`` may have overwritten; ``psql.condition``) decides like
  psql: a branch that cannot run is neither linted nor applied (a note says so), a branch
  that must run is an ordinary part of the file;
- a condition only the run can tell (``\\if :missing`` after ``SELECT ... AS missing
  \\gset``, a ``psql -v`` variable, a backtick command) makes its branch *conditional*:
  every such branch is linted, as any of them may run somewhere, and its findings say
  they are conditional (``details["conditional"]`` and the message). The twin can apply
  one branch per block without contradicting itself (``CREATE ROLE`` in one, ``ALTER
  ROLE`` of the same role in the other): it applies the first branch not known to be
  false, as idempotent migrations put the "not there yet" case first, and notes the others
  as not applied.

Blocks are per file, as in psql (a block must end in the file it starts in). Meta-commands
inside a branch that cannot run (``\\connect``, ``\\ir``) are skipped like psql does;
``\\set`` values are read by the lexer in file order whatever the branch (a known limit).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class _Frame:
    line: int  # the \if's line
    inactive: bool  # inside a branch that cannot run: no branch of this block runs
    decided: bool = False  # an earlier branch certainly ran
    unknown_before: bool = False  # an earlier branch's condition is only known at run time
    state: str = "dead"  # this branch: runs | maybe | dead
    branch: str = ""  # "\if :x", "\else" ... as written
    branch_line: int = 0
    twin_taken: bool = False  # the twin applies an earlier branch of this block
    twin: bool = False  # the twin applies this branch


class Branches:
    """The open ``\\if`` blocks of one file, fed its meta-commands in order."""

    def __init__(self, shown: str, outer: tuple[str | None, bool] = (None, False)) -> None:
        self.shown = shown
        self.outer = outer  # (conditional, twin_skip) where the including file \ir'd it
        self.frames: list[_Frame] = []
        self.notes: list[str] = []

    @property
    def dead(self) -> bool:
        """The current position cannot run (a branch of an enclosing block cannot)."""
        return any(f.state == "dead" for f in self.frames)

    @property
    def conditional(self) -> str | None:
        """Where the current position depends on a condition only the run can tell."""
        for f in reversed(self.frames):
            if f.state == "maybe":
                # no backslash: every output shows one escaped, as \\\\
                where = f"the psql '{f.branch.lstrip(chr(92))}' branch at line {f.branch_line}"
                if f.branch_line != f.line:
                    where += f" (of the if-block at line {f.line})"
                return where
        return self.outer[0]

    @property
    def twin_skip(self) -> bool:
        """The twin does not apply the current position (another branch is applied)."""
        return self.outer[1] or any(not f.twin for f in self.frames)

    @property
    def here(self) -> tuple[str | None, bool]:
        """(conditional, twin_skip) to hand to a file included at this position."""
        return self.conditional, self.twin_skip

    def meta(self, name: str, command: str, line: int, value: bool | None) -> bool:
        """Take one meta-command; True when it was one of the four (handled here)."""
        if name == "if":
            inactive = self.dead
            f = _Frame(line=line, inactive=inactive)
            self.frames.append(f)
            self._enter(f, command, line, value)
            return True
        if name in ("elif", "else", "endif") and not self.frames:
            self.notes.append(f"{self.shown}:{line}: psql \\{name} without \\if: ignored")
            return True
        if name == "elif":
            self._enter(self.frames[-1], command, line, value)
            return True
        if name == "else":
            self._enter(self.frames[-1], command, line, None, otherwise=True)
            return True
        if name == "endif":
            self.frames.pop()
            return True
        return False

    def _enter(
        self,
        f: _Frame,
        command: str,
        line: int,
        value: bool | None,
        *,
        otherwise: bool = False,
    ) -> None:
        f.branch, f.branch_line = " ".join(command.split()), line
        if f.inactive or f.decided or value is False:
            f.state = "dead"
        elif otherwise:
            f.state = "maybe" if f.unknown_before else "runs"
        elif value is True:
            f.state = "maybe" if f.unknown_before else "runs"
        else:
            f.state = "maybe"
        f.decided = f.decided or f.state == "runs"
        f.unknown_before = f.unknown_before or (value is None and f.state == "maybe")
        f.twin = f.state != "dead" and not f.twin_taken
        f.twin_taken = f.twin_taken or f.twin
        if f.state == "dead" and not f.inactive:
            why = "an earlier branch runs" if f.decided else "its condition is false"
            self.notes.append(
                f"{self.shown}:{line}: psql {f.branch} branch never runs ({why}): "
                "not linted, not applied on the twin"
            )

    def finish(self) -> None:
        for f in self.frames:
            self.notes.append(
                f"{self.shown}:{f.line}: psql \\if without \\endif at the end of the file "
                "(psql ends the block there with an error)"
            )
        self.frames.clear()
