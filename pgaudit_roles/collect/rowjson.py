"""One snapshot row as JSON text, the way the snapshot file has always written it.

Why a module: saving a snapshot encodes every in-memory row, and ``json.dumps(row,
default=str, ensure_ascii=False)`` builds a new encoder for each call, then a C encoder
inside it: about half of the per-row cost. The C encoder is built once here and checked
against ``json.dumps`` on a sample at import; where it is missing or answers differently
(another Python), rows go through one reused ``JSONEncoder`` instead, same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

_SAMPLE: list[Any] = [1, -(2**63), 'é " \\ \n \x1b \u2028', None, True, False, ["x", None], []]


def _plain() -> Callable[[Any], str]:
    return json.JSONEncoder(ensure_ascii=False, default=str).encode


def _fast() -> Callable[[Any], str] | None:
    try:
        from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]

        if c_make_encoder is None:
            return None
        # markers None: no shared state between threads (a row never holds itself)
        chunks = c_make_encoder(None, str, encode_basestring, None, ": ", ", ", False, False, True)
        join = "".join

        def encode(row: Any) -> str:
            return join(chunks(row, 0))

        if encode(_SAMPLE) != json.dumps(_SAMPLE, default=str, ensure_ascii=False):
            return None
        return encode
    except Exception:  # noqa: BLE001 - any surprise: the public encoder
        return None


encode_row: Callable[[Any], str] = _fast() or _plain()
"""``json.dumps(row, default=str, ensure_ascii=False)``, faster."""
