"""Write files so that a crash or an error never leaves half of one behind."""

from __future__ import annotations

import contextlib
import gzip
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, cast


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike[str], *, binary: bool = False,
                  compress: bool | None = None) -> Iterator[IO]:
    """Yield a file object that becomes ``path`` only when the block ends without error.

    The temporary file lives in the target directory so the final ``os.replace`` is a
    rename on one filesystem (atomic on POSIX). ``compress=None`` gzips when the name ends
    in ``.gz``.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if compress is None:
        compress = target.name.endswith(".gz")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as raw:
            if compress:
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
            raw.flush()
            os.fsync(raw.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


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
        return gzip.GzipFile(fileobj=fh, mode="rb")  # type: ignore[return-value]
    return fh
