"""A test video of a few minutes, composed from photos: shots with faces and without, static and moving.

The video faces benchmark (``bench.video_throughput``) scans it. Its shots are the kinds a crawler
meets, so that no single trick (skipping unchanged frames, say) decides the figure alone:

- a talking head before a static camera, two people (one walking), close-ups cut every 3 s;
- a slow zoom into a photo (Ken Burns: every pixel moves), a hand-held interview (the whole frame
  shakes every frame), a fade from and to black;
- a wide shot of five small faces (55-75 px, found only by the upsampled detector);
- real footage (``../shared/data/video/short_hamilton_clip.mp4``, upscaled), where present;
- stretches without a face: a pan over a landscape, a title card, a hand-held shot of a wall.

Every frame gets its own sensor noise (σ 2 levels), as a camera's frames do. People are cut out of
photos around the face that face_recognition finds in them: ``../shared/data/faces`` where present,
else matplotlib's Grace Hopper and scikit-image's astronaut.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
FPS = 30
NOISE_SIGMA = 2.0  # grey levels of per-frame sensor noise
# (person folder, photo scanned, photo enrolled); the last one is never enrolled: a stranger
SHARED_PEOPLE = (("obama", "obama2.jpg", "obama.jpg"), ("biden", "biden2.jpg", "biden.jpg"),
                 ("kit_harington", "john2.jpeg", "john1.jpeg"), ("rose_leslie", "img2.jpg", "img1.jpg"),
                 ("alex_lacamoire", "img1.jpg", None))
Frame = np.ndarray  # (height, width, 3) uint8 RGB


@dataclass
class Person:
    name: str
    sprite: np.ndarray  # (h, w, 4) uint8 RGBA: head and shoulders cut from the scanned photo (soft-edged)
    face_h_px: int  # the face's height in the sprite, pixels
    enrol_photo: Path | None  # a different photo of the same person, to enrol; None: not enrolled


def people() -> tuple[list[Person], str]:
    """The people of the video and where they come from."""
    from PIL import Image

    folder = SHARED_DATA / "faces"
    if folder.is_dir():
        found = [_person(name, Image.open(folder / name / scanned), folder / name / enrolled if enrolled else None)
                 for name, scanned, enrolled in SHARED_PEOPLE]
        return found, f"{folder} (4 enrolled from another photo of them, 1 stranger)"
    import matplotlib.cbook
    from skimage import data

    hopper = Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    mirrored = Image.open(hopper).transpose(Image.FLIP_LEFT_RIGHT)  # scanned mirrored, enrolled as is
    astronaut = Image.fromarray(data.astronaut())
    found = [_person("grace_hopper", mirrored, hopper), _person("astronaut", astronaut, None)]
    return found * 2 + found[:1], "matplotlib's grace_hopper.jpg (enrolled) and skimage's astronaut (a stranger)"


def _person(name: str, photo, enrol_photo: Path | None) -> Person:
    """Head and shoulders around the largest face of ``photo`` (a PIL image)."""
    from PIL import Image, ImageFilter

    from enrollment import face

    photo = photo.convert("RGB")
    photo.thumbnail((900, 900))
    rgb = np.asarray(photo)
    box = face.detect_faces(rgb, 1, "hog")[0]  # HOG's box, as the video has always been drawn
    height, width = box.bottom - box.top, box.right - box.left
    top, bottom = max(0, box.top - int(0.7 * height)), min(rgb.shape[0], box.bottom + int(1.3 * height))
    left, right = max(0, box.left - int(0.9 * width)), min(rgb.shape[1], box.right + int(0.9 * width))
    crop = rgb[top:bottom, left:right]
    # the person without the photo's background, roughly: a head ellipse and a shoulders ellipse, soft-edged,
    # so that a person moving before a still background changes the person's pixels, not a rectangle's
    y, x = np.mgrid[0:crop.shape[0], 0:crop.shape[1]].astype(np.float32)
    face_y, face_x = (box.top + box.bottom) / 2 - top, (box.left + box.right) / 2 - left
    head = ((x - face_x) / (0.75 * width)) ** 2 + ((y - face_y) / (0.85 * height)) ** 2 <= 1
    shoulders = ((x - face_x) / (1.5 * width)) ** 2 + ((y - face_y - 1.5 * height) / (1.0 * height)) ** 2 <= 1
    alpha = Image.fromarray(((head | shoulders) * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(4))
    return Person(name, np.dstack([crop, np.asarray(alpha)]), height, enrol_photo)


# -------------------------------------------------------------------------------------- drawing


def _resized(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(rgb).resize((max(1, width), max(1, height)), Image.BILINEAR))


def _cover(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """``rgb`` (grey or colour) scaled and cropped to fill width × height."""
    rgb = np.repeat(rgb[..., None], 3, axis=2) if rgb.ndim == 2 else rgb
    scale = max(width / rgb.shape[1], height / rgb.shape[0])
    big = _resized(rgb, int(np.ceil(rgb.shape[1] * scale)), int(np.ceil(rgb.shape[0] * scale)))
    top, left = (big.shape[0] - height) // 2, (big.shape[1] - width) // 2
    return big[top:top + height, left:left + width].copy()


def _paste(canvas: np.ndarray, person: Person, center_x: float, top_y: float, face_h_px: float) -> None:
    """Draw ``person`` scaled so that the face is ``face_h_px`` tall, centred on x, head at ``top_y``."""
    scale = face_h_px / person.face_h_px
    sprite = _resized(person.sprite, round(person.sprite.shape[1] * scale), round(person.sprite.shape[0] * scale))
    top, left = round(top_y), round(center_x - sprite.shape[1] / 2)
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + sprite.shape[0], canvas.shape[0]), min(left + sprite.shape[1], canvas.shape[1])
    if y1 > y0 and x1 > x0:
        part = sprite[y0 - top:y1 - top, x0 - left:x1 - left].astype(np.float32)
        alpha = part[..., 3:] / 255
        canvas[y0:y1, x0:x1] = (alpha * part[..., :3] + (1 - alpha) * canvas[y0:y1, x0:x1]).astype(np.uint8)


def _shifted(frame: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """The frame moved by (dx, dy) px, sub-pixel (bilinear), edges repeated: a hand-held camera's shake."""
    from PIL import Image

    padded = Image.fromarray(np.pad(frame, ((8, 8), (8, 8), (0, 0)), mode="edge"))
    height, width = frame.shape[:2]
    return np.asarray(padded.transform((width, height), Image.AFFINE, (1, 0, 8 + dx, 0, 1, 8 + dy),
                                       resample=Image.BILINEAR))


@dataclass
class Shot:
    name: str
    seconds: float
    frames: Callable[[int, int], Iterator[Frame]]  # (width, height) → the shot's frames at FPS
    faces: bool  # whether faces are on screen


# Each shot's frames, (width, height) px → (height, width, 3) uint8 RGB frames at FPS. The images come from
# scikit-image's sample data, imported when a shot's first frame is drawn; ``shots`` binds the people (and the
# random generator of the hand-held shots) with functools.partial.


def _talking_head(speaker: Person, width: int, height: int) -> Iterator[Frame]:
    """20 s: ``speaker`` before a coffee cup and a static camera, swaying and nodding (face 36 % of height)."""
    from skimage import data

    background = _cover(data.coffee(), width, height)
    for i in range(20 * FPS):
        t = i / FPS
        frame = background.copy()
        _paste(frame, speaker, 0.38 * width + 8 * np.sin(t * 2.1), 0.12 * height + 4 * np.sin(t * 3.0),
               0.36 * height * (1 + 0.02 * np.sin(t * 1.6)))
        yield frame


def _landscape_pan(width: int, height: int) -> Iterator[Frame]:
    """12 s, no face: a pan from left to right across a picture 1.5 frames wide."""
    from skimage import data

    wide = _cover(data.hubble_deep_field(), int(width * 1.5), height)
    for i in range(12 * FPS):
        left = int((wide.shape[1] - width) * i / (12 * FPS))
        yield wide[:, left:left + width]


def _ken_burns(subject: Person, width: int, height: int) -> Iterator[Frame]:
    """15 s: a slow zoom (1× to 1.35×) into a still of ``subject`` before a rocket; every pixel moves."""
    from skimage import data

    canvas = _cover(data.rocket(), width, height)
    _paste(canvas, subject, 0.6 * width, 0.15 * height, 0.3 * height)
    for i in range(15 * FPS):
        zoom = 1 + 0.35 * i / (15 * FPS)
        crop_w, crop_h = int(width / zoom), int(height / zoom)
        left, top = int((0.6 * width - crop_w / 2) * (zoom - 1) / 0.35 * 0.5), int(0.1 * height * (zoom - 1))
        left = min(max(left, 0), width - crop_w)
        yield _resized(canvas[top:top + crop_h, left:left + crop_w], width, height)


def _footage(width: int, height: int) -> Iterator[Frame]:
    """The first 10 s of ``short_hamilton_clip.mp4`` (real footage), scaled to width × height."""
    import av

    with av.open(str(SHARED_DATA / "video" / "short_hamilton_clip.mp4")) as container:
        for n, frame in enumerate(container.decode(video=0)):
            if n >= 10 * FPS:
                break
            yield frame.to_ndarray(format="rgb24", width=width, height=height)


def _two_people(standing: Person, walking: Person, width: int, height: int) -> Iterator[Frame]:
    """20 s on a dim lawn: ``standing`` sways on the right while ``walking`` crosses from the left, bobbing."""
    from skimage import data

    background = _cover(data.grass(), width, height) // 2 + 60  # a dim lawn
    for i in range(20 * FPS):
        t = i / FPS
        frame = background.copy()
        _paste(frame, standing, 0.75 * width + 3 * np.sin(t), 0.15 * height, 0.3 * height)
        _paste(frame, walking, -0.1 * width + 0.55 * width * t / 20, 0.2 * height + 6 * abs(np.sin(t * 4)),
               0.26 * height)
        yield frame


def _wide_shot(cast: list[Person], width: int, height: int) -> Iterator[Frame]:
    """15 s: ``cast[:5]`` before a brick wall, faces 60-75 px tall at 720 p (scaled with ``height``), drifting."""
    from skimage import data

    background = _cover(data.brick(), width, height)
    places = [(0.12, 0.35, 60), (0.3, 0.45, 70), (0.5, 0.3, 62), (0.7, 0.5, 75), (0.88, 0.38, 66)]
    for i in range(15 * FPS):
        t = i / FPS
        frame = background.copy()
        for k, (x, y, face_px) in enumerate(places):
            _paste(frame, cast[k], x * width + 3 * np.sin(t + k), y * height + 2 * np.sin(1.3 * t + k),
                   face_px * height / 720)
        yield frame


def _title_card(width: int, height: int) -> Iterator[Frame]:
    """10 s, no face: one still page of text, the same array every frame."""
    from skimage import data

    card = _cover(data.page(), width, height)
    for _ in range(10 * FPS):
        yield card


def _cuts(first: Person, second: Person, width: int, height: int) -> Iterator[Frame]:
    """18 s of close-ups (face 45 % of height), cutting between ``first`` and ``second`` every 3 s."""
    from skimage import data

    backgrounds = [_cover(data.chelsea()[:80, :120], width, height), _cover(data.coffee()[250:], width, height)]
    for i in range(18 * FPS):
        t = i / FPS
        who = int(t // 3) % 2
        frame = backgrounds[who].copy()
        _paste(frame, (first, second)[who], 0.5 * width + 5 * np.sin(t * 2), 0.08 * height, 0.45 * height)
        yield frame


def _handheld_wall(rng: np.random.Generator, width: int, height: int) -> Iterator[Frame]:
    """15 s, no face: gravel shaken by a hand-held camera, each frame shifted by 2 draws of ``rng`` (±4 px)."""
    from skimage import data

    background = _cover(data.gravel(), width, height)
    for _ in range(15 * FPS):
        yield _shifted(background, *rng.uniform(-4, 4, 2))


def _handheld_interview(guest: Person, rng: np.random.Generator, width: int, height: int) -> Iterator[Frame]:
    """15 s: ``guest`` (face 40 % of height), the whole frame shaken by 2 draws of ``rng`` (±4 px) each frame."""
    from skimage import data

    background = _cover(data.rocket()[:, :300], width, height)
    _paste(background, guest, 0.45 * width, 0.1 * height, 0.4 * height)
    for _ in range(15 * FPS):
        yield _shifted(background, *rng.uniform(-4, 4, 2))


def _fade(subject: Person, width: int, height: int) -> Iterator[Frame]:
    """10 s: ``subject`` fading in from black over 4 s, then out to black over the last 3 s."""
    from skimage import data

    background = _cover(data.coffee(), width, height)
    _paste(background, subject, 0.5 * width, 0.12 * height, 0.35 * height)
    for i in range(10 * FPS):
        t = i / FPS
        level = min(1.0, t / 4, (10 - t) / 3)
        yield (background * max(level, 0.0)).astype(np.uint8)


def shots(cast: list[Person], seed: int = 0) -> list[Shot]:
    """The video's shots, in order (about 160 s in all).

    ``cast``: at least 5 people (``people()``). The two hand-held shots draw their shake from one generator
    seeded with ``seed``, in the order their frames are drawn (the wall's, then the interview's, in a video).
    """
    rng = np.random.default_rng(seed)
    a, b, c, d, e = cast[:5]
    ken_burns = partial(_ken_burns, b)
    real = (SHARED_DATA / "video" / "short_hamilton_clip.mp4").is_file()
    return [
        Shot("talking head, static camera", 20, partial(_talking_head, a), True),
        Shot("pan over a landscape, no face", 12, _landscape_pan, False),
        Shot("slow zoom into a photo", 15, ken_burns, True),
        Shot("real footage (short_hamilton_clip.mp4)" if real else "slow zoom again", 10,
             _footage if real else ken_burns, True),
        Shot("two people, one walking", 20, partial(_two_people, c, d), True),
        Shot("wide shot, five faces of 55-75 px", 15, partial(_wide_shot, cast), True),
        Shot("title card, no face", 10, _title_card, False),
        Shot("close-ups cut every 3 s", 18, partial(_cuts, a, b), True),
        Shot("hand-held wall, no face", 15, partial(_handheld_wall, rng), False),
        Shot("hand-held interview", 15, partial(_handheld_interview, d, rng), True),
        Shot("fade from and to black", 10, partial(_fade, e), True),
    ]


def write_video(path: Path, scenes: list[Shot], width: int = 1280, height: int = 720, seed: int = 0,
                audio: np.ndarray | None = None, size: tuple[int, int] | None = None,
                noise_sigma: float = NOISE_SIGMA, preset: str = "veryfast") -> Path:
    """Encode the shots as H.264 (yuv420p, ``FPS`` fps, x264 ``preset``, CRF 23) in an mp4, frame by frame.

    Shots are drawn at ``width`` × ``height``, then scaled to ``size`` (width, height) when given (the 4K
    video: drawing at 4K would take minutes). ``audio``: mono float32 samples at 16 kHz for an AAC
    track, or None for a silent video. ``noise_sigma``: per-frame sensor noise, grey levels (0: none).
    """
    import av
    from PIL import Image

    from monitor.demo.synthetic import mux_audio

    out_width, out_height = size or (width, height)
    rng = np.random.default_rng(seed)
    noise = [rng.normal(0, noise_sigma, (height, width, 3)).astype(np.int16) for _ in range(7 if noise_sigma else 0)]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS, options={"preset": preset, "crf": "23"})
        stream.width, stream.height, stream.pix_fmt = out_width, out_height, "yuv420p"
        # every stream is added before the first packet is written
        voice = container.add_stream("aac", rate=16_000, layout="mono") if audio is not None else None
        n = 0
        for shot in scenes:
            for rgb in shot.frames(width, height):
                if noise:
                    rgb = np.clip(rgb.astype(np.int16) + noise[n % len(noise)], 0, 255).astype(np.uint8)
                if (out_width, out_height) != (width, height):
                    rgb = np.asarray(Image.fromarray(rgb).resize((out_width, out_height), Image.BILINEAR))
                for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")):
                    container.mux(packet)
                n += 1
        for packet in stream.encode(None):
            container.mux(packet)
        if voice is not None:
            mux_audio(container, voice, audio, 16_000)
    return path
