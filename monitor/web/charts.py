"""The score over time as an inline SVG drawn on the server: no script, nothing fetched."""

from __future__ import annotations

from markupsafe import Markup, escape

WIDTH, HEIGHT, PAD = 600, 120, 4


def score_curve_svg(curve: list[list[float]], segments: list[dict]) -> Markup | None:
    """``curve`` ([[time_s, score 0..1], …]) as a polyline, the matched ``segments`` shaded; None without one."""
    if len(curve) < 2:
        return None
    end_s = max(float(curve[-1][0]), 1e-6)

    def x(time_s: float) -> float:
        return PAD + (WIDTH - 2 * PAD) * float(time_s) / end_s

    def y(score: float) -> float:
        return PAD + (HEIGHT - 2 * PAD) * (1.0 - min(max(float(score), 0.0), 1.0))

    points = " ".join(f"{x(t):.1f},{y(s):.1f}" for t, s in curve)
    shades = "".join(
        f'<rect class="segment" x="{x(seg["start_s"]):.1f}" y="0" height="{HEIGHT}" '
        f'width="{max(x(seg["end_s"]) - x(seg["start_s"]), 1):.1f}"/>'
        for seg in segments if "start_s" in seg and "end_s" in seg)
    label = escape(f"score over {end_s:.0f} s of media")
    return Markup(f'<svg class="curve" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{label}">{shades}'
                  f'<polyline points="{points}"/></svg>')
