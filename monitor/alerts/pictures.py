"""Small pictures shown inside alert e-mails: the similarity over time (voice) and the found face next to
the reference (face), plus the face crop the caller stores in ``Finding.found_face_jpeg``.

matplotlib, numpy and Pillow are imported inside the functions: importing this module stays cheap, so
``likeness --help`` does not pay for them. Figures are drawn with the Agg canvas directly (no pyplot):
no global state, safe from any thread, no display needed.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

# The similarity picture: 600 × 200 px. Small enough to sit inside a message without scrolling sideways.
CURVE_SIZE_IN = (6.0, 2.0)
CURVE_DPI = 100
# Colours a quantised palette keeps exactly (few, flat): the PNG stays at a few tens of KB.
CURVE_COLOUR = "#1f4e99"
THRESHOLD_COLOUR = "#c0392b"
SEGMENT_COLOUR = "#f5b041"
PALETTE_COLOURS = 64
# The face pair: 2 × 160 px faces with labels, stored as JPEG (photographs compress badly as PNG).
FACE_PAIR_HEIGHT_IN = 2.1
FACE_PAIR_DPI = 100
JPEG_QUALITY = 85


def clock(seconds: float) -> str:
    """``seconds`` (≥ 0, fractions dropped) as ``mm:ss``, or ``h:mm:ss`` from one hour on."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def _encode(figure, image_format: str) -> bytes:
    """The figure drawn by Agg, as ``"PNG"`` (quantised to a small palette: ≈ 3× smaller) or ``"JPEG"`` bytes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    image = Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba()).convert("RGB")
    out = io.BytesIO()
    if image_format == "PNG":
        image = image.quantize(colors=PALETTE_COLOURS, method=Image.Quantize.MEDIANCUT)
        image.save(out, format="PNG", optimize=True)
    else:
        image.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue()


def similarity_picture(curve: list[tuple[float, float]], threshold: float, segments: list[dict],
                       duration_s: float | None) -> bytes:
    """The voice score over time as a PNG of about 600 × 200 px (a few tens of KB at most).

    ``curve``: ``[(time_s, score), …]``, seconds of the media and calibrated scores 0 to 1, in any
    order. ``threshold``: the alert threshold (a score), drawn as a dashed line. ``segments``:
    ``[{"start_s", "end_s", …}, …]`` in seconds, shaded. ``duration_s``: the media's length, the end of
    the time axis when known (else the last point or segment). The time axis reads mm:ss (h:mm:ss).
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    points = sorted((float(t), float(s)) for t, s in curve)
    ends = [t for t, _ in points] + [float(seg.get("end_s", 0.0)) for seg in segments]
    end = float(duration_s) if duration_s and duration_s > 0 else max(ends, default=0.0)
    end = max(end, 1.0)

    figure = Figure(figsize=CURVE_SIZE_IN, dpi=CURVE_DPI)
    axes = figure.add_axes((0.08, 0.16, 0.86, 0.68))
    for seg in segments:
        start_s, end_s = float(seg.get("start_s", 0.0)), float(seg.get("end_s", 0.0))
        # A single-frame segment (start == end) still gets a visible band: 0.4 % of the axis.
        width = max(end_s - start_s, end * 0.004)
        axes.axvspan(start_s, start_s + width, color=SEGMENT_COLOUR, alpha=0.45, linewidth=0,
                     label="matched" if seg is segments[0] else None)
    if points:
        axes.plot([t for t, _ in points], [s for _, s in points], color=CURVE_COLOUR, linewidth=1.2,
                  label="score")
    else:
        axes.text(0.5, 0.5, "no scores", transform=axes.transAxes, ha="center", va="center", color="#777777")
    axes.axhline(threshold, color=THRESHOLD_COLOUR, linestyle="--", linewidth=1, label=f"threshold {threshold:.2f}")
    axes.set_xlim(0.0, end)
    axes.set_ylim(0.0, 1.0)
    axes.set_yticks([0.0, 0.5, 1.0])
    axes.xaxis.set_major_locator(MaxNLocator(nbins=8, steps=[1, 2, 3, 5, 6, 10]))
    axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _pos: clock(value)))
    axes.tick_params(labelsize=8)
    axes.set_ylabel("score", fontsize=8)
    axes.grid(axis="y", color="#dddddd", linewidth=0.6)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    # Above the plot, so it never hides the curve.
    axes.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False, ncol=3)
    return _encode(figure, "PNG")


def _decode_rgb(jpeg: bytes) -> np.ndarray:
    """JPEG (or any Pillow-readable) bytes → uint8 RGB array (H, W, 3). Raises ValueError if unreadable."""
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(jpeg)) as image:
            return np.asarray(image.convert("RGB"))
    except (UnidentifiedImageError, OSError) as error:
        raise ValueError(f"not a readable picture: {error}") from None


def face_pair_picture(found_jpeg: bytes, reference_jpeg: bytes | None) -> bytes:
    """The found face next to the performer's reference face, labelled, as a JPEG about 2.1 in (210 px) high.

    Both inputs are small face crops (JPEG bytes, e.g. from :func:`crop_jpeg`); without a reference the
    found face is shown alone. The result is JPEG (not PNG): photographs are several times smaller so.
    Raises ValueError if a picture does not decode.
    """
    from matplotlib.figure import Figure

    panels = [("found", _decode_rgb(found_jpeg))]
    if reference_jpeg is not None:
        panels.append(("reference", _decode_rgb(reference_jpeg)))
    figure = Figure(figsize=(1.9 * len(panels), FACE_PAIR_HEIGHT_IN), dpi=FACE_PAIR_DPI)
    for index, (label, rgb) in enumerate(panels):
        axes = figure.add_subplot(1, len(panels), index + 1)
        axes.imshow(rgb, interpolation="antialiased")
        axes.set_title(label, fontsize=9)
        axes.set_axis_off()
    figure.subplots_adjust(left=0.03, right=0.97, bottom=0.03, top=0.88, wspace=0.08)
    return _encode(figure, "JPEG")


def jpeg_of(rgb: np.ndarray, quality: int = 90) -> bytes:
    """A picture (H, W, 3) uint8 as JPEG bytes."""
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(rgb).save(out, format="JPEG", quality=quality)
    return out.getvalue()


def crop_jpeg(rgb: np.ndarray, box: tuple[int, int, int, int], margin: float = 0.25, side_px: int = 160) -> bytes:
    """A small JPEG of the face in ``box``, with some context around it.

    ``rgb``: uint8 array (H, W, 3). ``box``: ``(top, right, bottom, left)`` in pixels, as
    face_recognition gives them (right and bottom exclusive). The box is made square on its longer side,
    widened by ``margin`` (a share of that side, on each side), clipped to the image, and scaled so its
    longer side is ``side_px`` pixels. Raises ValueError for an image of the wrong shape or a box
    outside it.
    """
    import numpy as np
    from PIL import Image

    array = np.asarray(rgb)
    if array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"expected an RGB image of shape (H, W, 3), got {array.shape}")
    height, width = array.shape[:2]
    top, right, bottom, left = (int(v) for v in box)
    side = max(bottom - top, right - left)
    if side <= 0:
        raise ValueError(f"empty face box {box}")
    centre_y, centre_x = (top + bottom) / 2, (left + right) / 2
    # One square of ``span`` pixels, placed then clipped, so an unclipped crop is exactly square.
    span = round(side * (1 + 2 * margin))
    y0, x0 = round(centre_y - span / 2), round(centre_x - span / 2)
    y0, y1 = max(0, y0), min(height, y0 + span)
    x0, x1 = max(0, x0), min(width, x0 + span)
    if y1 <= y0 or x1 <= x0:
        raise ValueError(f"face box {box} lies outside the {width}×{height} image")
    crop = Image.fromarray(np.ascontiguousarray(array[y0:y1, x0:x1].astype(np.uint8)), "RGB")
    scale = side_px / max(crop.width, crop.height)
    size = (max(1, round(crop.width * scale)), max(1, round(crop.height * scale)))
    crop = crop.resize(size, Image.Resampling.LANCZOS)
    out = io.BytesIO()
    crop.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue()


def spectrogram_picture(samples: np.ndarray, sample_rate_hz: int, title: str, start_s: float = 0.0) -> bytes:
    """A spectrogram (dB, 0 to 8 kHz) of mono float samples as a PNG of about 600 × 220 px.

    ``start_s``: where the samples start in their recording, so the time axis reads as in the media.
    """
    import numpy as np
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.0, 2.2), dpi=100)
    axes = figure.add_subplot()
    samples = np.asarray(samples, dtype=np.float32)
    if samples.size < 512:  # specgram needs at least one window
        samples = np.pad(samples, (0, 512 - samples.size))
    with np.errstate(divide="ignore"):  # digital silence has no power: -inf dB, drawn as the darkest colour
        axes.specgram(samples, NFFT=512, Fs=sample_rate_hz, noverlap=384, cmap="magma",
                      xextent=(start_s, start_s + samples.size / sample_rate_hz))
    axes.set_ylim(0, min(8000, sample_rate_hz / 2))
    axes.set_title(title, fontsize=9)
    axes.set_ylabel("Hz", fontsize=8)
    axes.xaxis.set_major_formatter(lambda value, _position: clock(value))
    axes.tick_params(labelsize=7)
    figure.tight_layout()
    return _encode(figure, "PNG")
