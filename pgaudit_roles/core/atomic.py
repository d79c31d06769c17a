"""Write files so that a crash or an error never leaves half of one behind."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, cast


@contextlib.contextmanager
def atomic_writer(
    path: str | os.PathLike[str],
    *,
    binary: bool = False,
    compress: bool | None = None,
    mode: int = 0o666,
    sync: bool = True,
) -> Iterator[IO]:
    """Yield a file object that becomes ``path`` only when the block ends without error.

    The temporary file lives in the target directory so the final ``os.replace`` is a
    rename on one filesystem (atomic on POSIX). ``compress=None`` gzips when the name ends
    in ``.gz``. The file gets ``mode`` less the umask, as ``open()`` would give it
    (mkstemp's own 0600 would ignore a umask of 022; a fixed 0644 would ignore 077):
    reports and snapshots describe a database's weak points, so the user's umask rules,
    and snapshots ask for 0600 (``SNAPSHOT_MODE``). ``sync=False``: the caller has made
    the data durable itself before the block ends (write_reports syncs each report on a
    thread while the next one renders); the file is still renamed only then.
    """
    target = Path(path)
    if compress is None:
        compress = target.name.endswith(".gz")
    if target.exists() and not target.is_file() and not target.is_dir():
        # /dev/null, /dev/stdout, a FIFO: write through it. Renaming over it would
        # replace a device node with a regular file.
        with open(target, "wb") as raw, _layers(raw, binary, compress) as fh:
            yield fh
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as raw:
            with _layers(raw, binary, compress) as fh:
                yield fh
            raw.flush()
            if sync:
                os.fsync(raw.fileno())
        os.chmod(tmp, mode & ~current_umask())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def _layers(raw: IO[bytes], binary: bool, compress: bool) -> Iterator[IO]:
    """``raw`` as the caller wants it: gzip or not, bytes or UTF-8 text."""
    if compress:
        import gzip  # ~1 ms of import: only a snapshot or report written compressed needs it

        with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=5, mtime=0) as gzf:
            gz = cast(IO[bytes], gzf)
            if binary:
                yield gz
            else:
                with _text(gz) as fh:
                    yield fh
    elif binary:
        yield raw
    else:
        with _text(raw) as fh:
            yield fh


SNAPSHOT_MODE = 0o600
"""Snapshots are readable by their owner only (then the umask may remove more)."""


def current_umask() -> int:
    """The process umask (read by setting it and putting it back at once)."""
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def _text(raw: IO[bytes]) -> Iterator[IO[str]]:
    import io

    fh = io.TextIOWrapper(raw, encoding="utf-8", newline="\n", write_through=False)
    try:
        yield fh
        fh.flush()
    finally:
        fh.detach()


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """Atomically replace ``path`` with ``text``."""
    with atomic_writer(path) as fh:
        fh.write(text)


def open_maybe_gzip(path: str | os.PathLike[str]) -> IO[bytes]:
    """Open a file for reading, transparently un-gzipping it (by magic bytes, not name)."""
    fh = open(path, "rb")  # noqa: SIM115 - returned to the caller
    magic = fh.read(2)
    fh.seek(0)
    if magic == b"\x1f\x8b":
        import gzip  # see _layers

        return gzip.GzipFile(fileobj=fh, mode="rb")  # type: ignore[return-value]
    return fh
