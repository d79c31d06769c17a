"""Independent geometry check for the membership graph: does any drawn edge pass through
a box that is not one of its two endpoints? Samples each SVG path (M, L and C commands,
absolute coordinates, as graph_layout writes them) finely and tests every sample against
every other box, shrunk by a hair so a line that merely touches a border is not counted."""

from __future__ import annotations

import re

Box = tuple[float, float, float, float]  # x, y, w, h


def sample_path(d: str, per_segment: int = 24) -> list[tuple[float, float]]:
    tokens = re.findall(r"[MLC]|-?\d+(?:\.\d+)?", d)
    pts: list[tuple[float, float]] = []
    cur = (0.0, 0.0)
    i, cmd = 0, ""
    while i < len(tokens):
        if tokens[i] in ("M", "L", "C"):
            cmd = tokens[i]
            i += 1
        if cmd == "M":
            cur = (float(tokens[i]), float(tokens[i + 1]))
            pts.append(cur)
            i += 2
        elif cmd == "L":
            end = (float(tokens[i]), float(tokens[i + 1]))
            pts += [
                (
                    cur[0] + (end[0] - cur[0]) * t / per_segment,
                    cur[1] + (end[1] - cur[1]) * t / per_segment,
                )
                for t in range(1, per_segment + 1)
            ]
            cur = end
            i += 2
        elif cmd == "C":
            c1 = (float(tokens[i]), float(tokens[i + 1]))
            c2 = (float(tokens[i + 2]), float(tokens[i + 3]))
            end = (float(tokens[i + 4]), float(tokens[i + 5]))
            for k in range(1, per_segment + 1):
                t = k / per_segment
                a, b, c, e = (1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t**2, t**3
                pts.append(
                    (
                        a * cur[0] + b * c1[0] + c * c2[0] + e * end[0],
                        a * cur[1] + b * c1[1] + c * c2[1] + e * end[1],
                    )
                )
            cur = end
            i += 6
        else:
            raise ValueError(f"unexpected path data {d!r}")
    return pts


def crossings(
    boxes: list[Box], edges: list[tuple[int, int, str]], eps: float = 0.5
) -> list[tuple[int, int, int]]:
    """(member box, group box, crossed box) for every edge sample inside a foreign box."""
    bad = []
    for m, g, d in edges:
        pts = sample_path(d)
        # the samples' bounding box: a box whose inside lies wholly beside it holds no
        # sample (the same answer as testing each sample, without the scan)
        x0, x1 = min(p[0] for p in pts), max(p[0] for p in pts)
        y0, y1 = min(p[1] for p in pts), max(p[1] for p in pts)
        for k, (x, y, w, h) in enumerate(boxes):
            if k in (m, g):
                continue
            if x1 <= x + eps or x0 >= x + w - eps or y1 <= y + eps or y0 >= y + h - eps:
                continue
            if any(x + eps < px < x + w - eps and y + eps < py < y + h - eps for px, py in pts):
                bad.append((m, g, k))
    return bad


def overlaps(boxes: list[Box]) -> list[tuple[int, int]]:
    out = []
    for i, (x1, y1, w1, h1) in enumerate(boxes):
        for j in range(i + 1, len(boxes)):
            x2, y2, w2, h2 = boxes[j]
            if x1 < x2 + w2 and x2 < x1 + w1 and y1 < y2 + h2 and y2 < y1 + h1:
                out.append((i, j))
    return out
