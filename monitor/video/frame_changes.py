"""Where a sampled video frame differs from what its faces were last searched in.

A video is sampled once a second, and much of a frame is often what it was a second before: a static
camera's background, a title card, the faces of people sitting still. The face detector's cost grows
with the pixels it scans, so only what changed is scanned again (monitor.video.faces).

"What changed" is measured against a *reference*: the grey picture as it was when each part of it was
last searched, not the previous frame. A slow change (a fade, a drifting shadow) therefore adds up
until it counts, instead of passing unnoticed in steps each too small to matter.
"""

from __future__ import annotations

import numpy as np

# The frame is compared in tiles of this many pixels a side (of the sampled frame, at most 1280 px).
TILE_PX = 16
# A tile has changed when its mean absolute grey difference from the reference exceeds this (levels of
# 255). A camera's noise after compression stays under 1 level on still parts of the benchmark video;
# a face turning, a mouth moving or a cut make tens.
CHANGE_LEVEL = 4.0
# Changed tiles are searched with this much around them: a face of up to about 48 px (the smallest the
# detector finds at upsample 1 are 40 px) that touches a changed tile lies wholly inside the search. A
# larger face that moves or appears changes its own tiles; a known face that touches a change is
# searched for in its grown box (FACE_GROWTH). A face wholly in unchanged pixels gives the detector what
# it gave before: if it was found it is kept, if it was not it would not be now.
SEARCH_MARGIN_PX = 48
# A known face whose box touches a changed tile is searched for again in its box grown by this
# fraction of its size on every side: it may have moved, turned or gone.
FACE_GROWTH = 0.25
# When the regions to search cover more than this fraction of the frame, the whole frame is searched:
# one pass costs less than several overlapping ones.
WHOLE_FRAME_FRACTION = 0.6

# A camera that pans or shakes changes every pixel but moves the picture as a whole. When more than this
# fraction of the tiles changed, the frame is also compared with the reference moved by the picture's
# shift (found by phase correlation), and the shift is used when it leaves at most half as many changed.
SHIFT_TRY_FRACTION = 0.25
SHIFT_BLOCK_PX = 4  # phase correlation runs on 4 × 4 px block means, the shift is then refined to the pixel
# A fade changes every pixel by one gain: frame ≈ gain · reference + offset. The gain is fitted on the tiles'
# means and used (as a shift is) when it leaves at most half as many tiles changed; not from a reference too
# flat to fit (its tiles' means spread less than this, in levels), nor beyond these gains.
GAIN_MIN_SPREAD = 8.0
GAIN_RANGE = (0.2, 5.0)
# A zoom scales the picture about a point: a scale about the centre, then a shift. The factor is searched
# on block means between 1 / ZOOM_MAX and ZOOM_MAX (a second's zoom), in ZOOM_GRID steps, then refined:
# it must be right to about 0.3 %, or the edges of a 1280 px picture are misplaced by 2 px.
ZOOM_MAX = 1.08
ZOOM_GRID = 15
ZOOM_REFINE = (1.004, 1.002)
ZOOM_TRY_MAX_FRACTION = 0.9  # more changed than this is a cut, not a zoom: not worth the search (about 40 ms)

# all of the above, for the analysis key (monitor.video.faces.METHOD): changing one redoes analyses
SETTINGS = {"tile_px": TILE_PX, "change_level": CHANGE_LEVEL, "margin_px": SEARCH_MARGIN_PX,
            "face_growth": FACE_GROWTH, "whole_frame_fraction": WHOLE_FRAME_FRACTION,
            "shift_try_fraction": SHIFT_TRY_FRACTION, "shift_block_px": SHIFT_BLOCK_PX,
            "gain_min_spread": GAIN_MIN_SPREAD, "gain_range": GAIN_RANGE, "zoom": [ZOOM_MAX, ZOOM_GRID, ZOOM_REFINE]}

Box = tuple[int, int, int, int]  # top, right, bottom, left in pixels


def changed_tiles(reference: np.ndarray, frame: np.ndarray, tile_px: int = TILE_PX,
                  level: float = CHANGE_LEVEL, moved: bool = False) -> np.ndarray:
    """(rows, columns) bool: tiles of ``frame`` whose mean absolute difference from ``reference`` exceeds
    ``level``. Both uint8 grey (height, width) of one size; edge tiles may be partial.

    ``moved``: ``reference`` was shifted by whole pixels to follow a camera, which really moved by a
    fraction of a pixel more or less. That misregistration changes a pixel by up to half its gradient
    (|∂I/∂x| + |∂I/∂y|) / 2, so each tile's level is raised by its mean: sharp texture (gravel, foliage)
    is not taken for a change, while anything that appears or moves on its own changes far more.
    """
    from PIL import Image, ImageChops

    if reference.shape != frame.shape:
        raise ValueError(f"reference {reference.shape} and frame {frame.shape} differ in size")
    # Pillow's absolute difference and box reduction: a few times faster than numpy's here, and exact
    before = Image.fromarray(reference)
    allowed = level
    if moved:
        height, width = reference.shape
        slack = np.zeros(reference.shape, np.uint8)
        slack[:, 1:] = ImageChops.difference(before.crop((1, 0, width, height)), before.crop((0, 0, width - 1, height)))
        across = _tile_means(Image.fromarray(slack), tile_px)
        slack[:, :] = 0
        slack[1:, :] = ImageChops.difference(before.crop((0, 1, width, height)), before.crop((0, 0, width, height - 1)))
        allowed = level + 0.5 * (across + _tile_means(Image.fromarray(slack), tile_px))
    return _tile_means(ImageChops.difference(before, Image.fromarray(frame)), tile_px) > allowed


def _tile_means(image, tile_px: int) -> np.ndarray:
    """A grey PIL image (height, width) → (rows, columns) float32 means over tiles; edge tiles over their
    own pixels."""
    return np.asarray(image.convert("F").reduce(tile_px))


def estimate_shift(reference: np.ndarray, frame: np.ndarray, block_px: int = SHIFT_BLOCK_PX) -> tuple[int, int]:
    """(dy, dx) px such that ``frame[y, x]`` ≈ ``reference[y - dy, x - dx]``: how the picture moved.

    Both uint8 grey (height, width) of one size. Phase correlation of ``block_px`` block means gives the
    shift to a block; the pixel is then the best of the nearby shifts by mean absolute difference.
    """
    height, width = frame.shape
    rows, columns = height // block_px, width // block_px
    if rows < 8 or columns < 8:
        return 0, 0

    window = np.outer(np.hanning(rows), np.hanning(columns)).astype(np.float32)

    def blocks(image: np.ndarray) -> np.ndarray:
        from PIL import Image

        # Pillow's box reduction: the block means, ten times faster than numpy's reshape and mean
        small = np.asarray(Image.fromarray(image).reduce(block_px), dtype=np.float32)[:rows, :columns]
        return (small - small.mean()) * window

    spectrum = np.fft.rfft2(blocks(frame)) * np.conj(np.fft.rfft2(blocks(reference)))
    correlation = np.fft.irfft2(spectrum / np.maximum(np.abs(spectrum), 1e-9), s=(rows, columns))
    peak_y, peak_x = np.unravel_index(int(np.argmax(correlation)), correlation.shape)
    coarse_y = (peak_y - rows if peak_y > rows // 2 else peak_y) * block_px
    coarse_x = (peak_x - columns if peak_x > columns // 2 else peak_x) * block_px
    best, best_cost = (0, 0), _shift_cost(reference, frame, 0, 0)
    reach = block_px // 2  # phase correlation of block means is right to about half a block
    for dy in range(coarse_y - reach, coarse_y + reach + 1):
        for dx in range(coarse_x - reach, coarse_x + reach + 1):
            cost = _shift_cost(reference, frame, dy, dx)
            if cost < best_cost:
                best, best_cost = (dy, dx), cost
    return best


def _shift_cost(reference: np.ndarray, frame: np.ndarray, dy: int, dx: int, step: int = 4) -> float:
    """Mean absolute difference between ``frame`` and ``reference`` moved by (dy, dx), where they overlap
    (every ``step``-th pixel); infinite when they hardly overlap."""
    height, width = frame.shape
    if abs(dy) > height // 2 or abs(dx) > width // 2:
        return float("inf")
    moved = reference[max(-dy, 0):height - max(dy, 0):step, max(-dx, 0):width - max(dx, 0):step]
    seen = frame[max(dy, 0):height - max(-dy, 0):step, max(dx, 0):width - max(-dx, 0):step]
    return float(np.abs(moved.astype(np.int16) - seen.astype(np.int16)).mean())


def shifted(reference: np.ndarray, dy: int, dx: int, tile_px: int = TILE_PX) -> tuple[np.ndarray, np.ndarray]:
    """``reference`` moved by (dy, dx) px (uint8 grey, the same size), and (rows, columns) bool: the tiles
    that the move uncovered, which nothing is known of (they count as changed)."""
    height, width = reference.shape
    moved = np.zeros_like(reference)
    moved[max(dy, 0):height - max(-dy, 0), max(dx, 0):width - max(-dx, 0)] = \
        reference[max(-dy, 0):height - max(dy, 0), max(-dx, 0):width - max(dx, 0)]
    known = np.zeros(reference.shape, bool)
    known[max(dy, 0):height - max(-dy, 0), max(dx, 0):width - max(-dx, 0)] = True
    return moved, _uncovered_tiles(known, tile_px)


def estimate_gain(reference: np.ndarray, frame: np.ndarray, tile_px: int = TILE_PX) -> tuple[float, float] | None:
    """(gain, offset) such that ``frame`` ≈ gain · ``reference`` + offset, fitted on the tiles' means (a fade);
    None when the reference is too flat to tell (black) or the gain is out of GAIN_RANGE. Both uint8 grey
    (height, width) of one size."""
    from PIL import Image

    before = _tile_means(Image.fromarray(reference), tile_px).ravel()
    after = _tile_means(Image.fromarray(frame), tile_px).ravel()
    if before.std() < GAIN_MIN_SPREAD:
        return None
    gain, offset = np.polyfit(before, after, 1)
    return (float(gain), float(offset)) if GAIN_RANGE[0] <= gain <= GAIN_RANGE[1] else None


def relit(reference: np.ndarray, gain: float, offset: float) -> np.ndarray:
    """``reference`` (uint8 grey) with its levels mapped by ``gain`` · level + ``offset``, clipped to 0-255."""
    levels = np.clip(np.arange(256, dtype=np.float32) * gain + offset, 0, 255).round().astype(np.uint8)
    return levels[reference]


def estimate_zoom(reference: np.ndarray, frame: np.ndarray, block_px: int = SHIFT_BLOCK_PX) -> float:
    """The factor by which the picture was scaled about the frame's centre (a zoom; a shift may follow),
    searched on ``block_px`` block means; 1.0 when no factor explains ``frame`` better than none. Both
    uint8 grey (height, width) of one size."""
    from PIL import Image

    small_reference = np.asarray(Image.fromarray(reference).reduce(block_px))
    small_frame = np.asarray(Image.fromarray(frame).reduce(block_px))

    def cost(factor: float) -> float:
        scaled = _zoom_image(small_reference, factor)
        dy, dx = estimate_shift(scaled, small_frame, block_px=1)
        return _shift_cost(scaled, small_frame, dy, dx, step=1)

    costs = {float(factor): cost(factor) for factor in np.geomspace(1 / ZOOM_MAX, ZOOM_MAX, ZOOM_GRID)}
    best = min(costs, key=costs.__getitem__)
    for step in ZOOM_REFINE:
        for factor in (best / step, best * step):
            costs[factor] = cost(factor)
        best = min(costs, key=costs.__getitem__)
    return best if costs[best] < cost(1.0) else 1.0


def zoomed(reference: np.ndarray, factor: float, dy: int = 0, dx: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``reference`` (uint8 grey) scaled by ``factor`` about its centre, then moved by (dy, dx) px, the same
    size, and (rows, columns) bool: the tiles it no longer covers, which nothing is known of (changed)."""

    covered = _zoom_image(np.full(reference.shape, 255, np.uint8), factor, dy, dx, nearest=True) > 0
    return _zoom_image(reference, factor, dy, dx), _uncovered_tiles(covered, TILE_PX)


def _zoom_image(image: np.ndarray, factor: float, dy: int = 0, dx: int = 0, nearest: bool = False) -> np.ndarray:
    """``image`` (uint8 grey) scaled by ``factor`` about its centre, then moved by (dy, dx) px; black outside."""
    from PIL import Image

    height, width = image.shape
    # the output pixel (x, y) shows the image at ((x − dx − cx) / f + cx, (y − dy − cy) / f + cy)
    centre_x, centre_y = width / 2, height / 2
    coefficients = (1 / factor, 0, centre_x - (centre_x + dx) / factor,
                    0, 1 / factor, centre_y - (centre_y + dy) / factor)
    resample = Image.Resampling.NEAREST if nearest else Image.Resampling.BILINEAR
    return np.array(Image.fromarray(image).transform((width, height), Image.Transform.AFFINE, coefficients,
                                                      resample=resample))  # a copy: the caller writes to it


def zoom_boxes(boxes: np.ndarray, factor: float, shape: tuple[int, int], dy: int = 0, dx: int = 0) -> np.ndarray:
    """Boxes (N, 4: top, right, bottom, left px) where :func:`zoomed` puts them: scaled by ``factor`` about the
    centre of a frame of ``shape`` (height, width), then moved by (dy, dx)."""
    height, width = shape
    centre = np.array([height / 2, width / 2, height / 2, width / 2])
    moved = (np.asarray(boxes, dtype=np.float64).reshape(-1, 4) - centre) * factor + centre + [dy, dx, dy, dx]
    return np.round(moved).astype(np.int64)


def _uncovered_tiles(covered: np.ndarray, tile_px: int) -> np.ndarray:
    """(rows, columns) bool: tiles holding any pixel that ``covered`` (height, width) bool leaves False."""
    height, width = covered.shape
    rows, columns = -(-height // tile_px), -(-width // tile_px)
    padded = np.zeros((rows * tile_px, columns * tile_px), bool)
    padded[:height, :width] = ~covered
    return padded.reshape(rows, tile_px, columns, tile_px).any(axis=(1, 3))


def boxes_touching(changed: np.ndarray, boxes: np.ndarray, tile_px: int = TILE_PX) -> np.ndarray:
    """(N,) bool: which boxes (N, 4: top, right, bottom, left px) overlap a changed tile (or leave the frame's
    tiles, which counts as changed: the detector found them partly outside)."""
    rows, columns = changed.shape
    touching = np.zeros(len(boxes), bool)
    for index, (top, right, bottom, left) in enumerate(np.asarray(boxes, dtype=np.int64).reshape(-1, 4)):
        row0, row1 = max(top // tile_px, 0), min(-(-bottom // tile_px), rows)
        column0, column1 = max(left // tile_px, 0), min(-(-right // tile_px), columns)
        touching[index] = row1 <= row0 or column1 <= column0 or bool(changed[row0:row1, column0:column1].any())
    return touching


def search_regions(changed: np.ndarray, shape: tuple[int, int], refresh: np.ndarray,
                   tile_px: int = TILE_PX, margin_px: int = SEARCH_MARGIN_PX) -> list[Box] | None:
    """Rectangles of the frame to search for faces again, or None for the whole frame.

    ``changed`` (rows, columns) from :func:`changed_tiles`; ``shape`` the frame's (height, width);
    ``refresh`` (N, 4) boxes of known faces that touch a change, each searched in its box grown by
    ``FACE_GROWTH``. Each group of changed tiles is searched with ``margin_px`` around it, in a few
    rectangles when one would be mostly empty (the L of the strips a diagonal camera move uncovers).
    Two rectangles are merged into their bounding rectangle where that costs no more than searching
    both; others may overlap, so a face can be found twice (the caller removes the copy). An empty
    list: nothing changed.
    """
    from scipy import ndimage

    height, width = shape
    rectangles: list[Box] = []
    # tiles less than a tile apart are one group: a face's edge tiles may change and its flat cheek not
    labels, _ = ndimage.label(ndimage.binary_dilation(changed, structure=np.ones((3, 3), bool)))
    for index, (rows, columns) in enumerate(ndimage.find_objects(labels), start=1):
        group = (labels[rows, columns] == index) & changed[rows, columns]
        for top, right, bottom, left in _covering(group):
            rectangles.append((max((rows.start + top) * tile_px - margin_px, 0),
                               min((columns.start + right) * tile_px + margin_px, width),
                               min((rows.start + bottom) * tile_px + margin_px, height),
                               max((columns.start + left) * tile_px - margin_px, 0)))
    rectangles += [grown(box, shape) for box in np.asarray(refresh, dtype=np.int64).reshape(-1, 4)]
    rectangles = _merged(rectangles)
    area = sum(_area(rectangle) for rectangle in rectangles)
    return None if area > WHOLE_FRAME_FRACTION * height * width else rectangles


def _covering(tiles: np.ndarray, depth: int = 6) -> list[Box]:
    """Rectangles (top, right, bottom, left in tiles, ends exclusive) covering the True tiles of ``tiles``:
    their bounding rectangle, halved across its longer side while less than half of it is True."""
    rows, columns = np.flatnonzero(tiles.any(axis=1)), np.flatnonzero(tiles.any(axis=0))
    if not len(rows):
        return []
    top, bottom, left, right = rows[0], rows[-1] + 1, columns[0], columns[-1] + 1
    inner = tiles[top:bottom, left:right]
    if depth == 0 or inner.mean() >= 0.5 or inner.size <= 4:
        return [(int(top), int(right), int(bottom), int(left))]
    if bottom - top >= right - left:
        middle = (bottom - top) // 2
        halves = [(inner[:middle], top, left), (inner[middle:], top + middle, left)]
    else:
        middle = (right - left) // 2
        halves = [(inner[:, :middle], top, left), (inner[:, middle:], top, left + middle)]
    return [(int(t + row), int(r + column), int(b + row), int(lft + column))
            for half, row, column in halves for t, r, b, lft in _covering(half, depth - 1)]


def grown(box, shape: tuple[int, int], fraction: float = FACE_GROWTH) -> Box:
    """A face's box (top, right, bottom, left px) grown by ``fraction`` of its size on every side, within
    the frame of ``shape`` (height, width): where to look for that face a sampling interval later."""
    top, right, bottom, left = (int(value) for value in box)
    grow_y, grow_x = int(fraction * (bottom - top)), int(fraction * (right - left))
    height, width = shape
    return max(top - grow_y, 0), min(right + grow_x, width), min(bottom + grow_y, height), max(left - grow_x, 0)


def tiles_within(box: Box, grid: tuple[int, int], tile_px: int = TILE_PX) -> np.ndarray:
    """(rows, columns) bool: the tiles of a grid of ``grid`` (rows, columns) that lie wholly inside ``box``."""
    top, right, bottom, left = box
    inside = np.zeros(grid, bool)
    inside[-(-top // tile_px):bottom // tile_px, -(-left // tile_px):right // tile_px] = True
    return inside


def _area(box: Box) -> int:
    top, right, bottom, left = box
    return max(bottom - top, 0) * max(right - left, 0)


def _merged(rectangles: list[Box]) -> list[Box]:
    """Pairs replaced by their bounding rectangle where it is no larger than the two together, until none is."""
    rectangles = list(rectangles)
    merged = True
    while merged:
        merged = False
        for i in range(len(rectangles)):
            for j in range(i + 1, len(rectangles)):
                a, b = rectangles[i], rectangles[j]
                union = (min(a[0], b[0]), max(a[1], b[1]), max(a[2], b[2]), min(a[3], b[3]))
                if _area(union) <= _area(a) + _area(b):
                    rectangles[i] = union
                    del rectangles[j]
                    merged = True
                    break
            if merged:
                break
    return rectangles
