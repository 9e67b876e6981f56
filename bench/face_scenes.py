"""Still scenes for the face detection benchmark (``bench.face_detection``): real faces, small, turned and
partly covered, pasted onto real photos without people, with where each face is and whose it is.

- **Faces**: each photo's largest face (dlib's HOG box, as ``bench.video_scenes`` cuts people) with the head
  around it, soft-edged. From ``../shared/data/faces`` where present: each person's first photo is their
  reference (enrolled), and their other photos are pasted; Alex Lacamoire, with one photo, is pasted as a
  stranger (enrolled nowhere). Elsewhere, matplotlib's Grace Hopper (enrolled as is, pasted mirrored) and
  scikit-image's astronaut (a stranger), as the tests use them.
- **Scenes**: ``SCENE_SIZE`` px, one face per size band (``SIZE_BANDS_PX``, log-uniform within it, the face's
  side as dlib's HOG box measures it), turned by up to ``MAX_ANGLE_DEG`` either way, a ``COVERED_SHARE``
  of them with a quarter to two fifths of the face covered by a patch of another photo (a hand, a
  microphone, a mask), faces apart from each other. Backgrounds are scikit-image's photos without a person.
- Deterministic: the same ``seed`` gives the same scenes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

SHARED_FACES = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces"
SCENE_SIZE = (640, 360)  # width, height px
SIZE_BANDS_PX = ((16, 24), (24, 40), (40, 80), (80, 200))  # [low, high) face side, px
MAX_ANGLE_DEG = 60.0
COVERED_SHARE = 0.25
# (person folder, reference photo or None for a stranger, photos pasted)
SHARED_PEOPLE = (("obama", "obama.jpg", ("obama2.jpg", "obama3.jpg")), ("biden", "biden.jpg", ("biden2.jpg",)),
                 ("kit_harington", "john1.jpeg", ("john2.jpeg",)), ("rose_leslie", "img1.jpg", ("img2.jpg",)),
                 ("alex_lacamoire", None, ("img1.jpg",)))
# scikit-image's photos without a person in them
BACKGROUNDS = ("coffee", "rocket", "chelsea", "hubble_deep_field", "immunohistochemistry", "retina", "brick",
               "grass", "gravel", "coins", "clock")
Box = tuple[int, int, int, int]  # top, right, bottom, left px


@dataclass
class Face:
    """A face to paste: ``head`` (n, n, 4) uint8 RGBA, square, the face's centre at its centre."""

    person: str
    photo: str
    head: np.ndarray
    face_px: int  # the face's side in ``head``, px


@dataclass
class Pasted:
    """Where a face was pasted: its HOG-shaped box (an axis-aligned square of its side around its centre)."""

    person: str
    photo: str
    box: Box
    size_px: int
    angle_deg: float
    covered: bool


@dataclass
class Scene:
    rgb: np.ndarray  # (height, width, 3) uint8
    faces: list[Pasted]


def people() -> tuple[dict[str, Path], list[Face], str]:
    """References (person → photo), the faces to paste, and where they come from."""
    from PIL import Image

    if SHARED_FACES.is_dir():
        references = {name: SHARED_FACES / name / reference for name, reference, _ in SHARED_PEOPLE if reference}
        faces = [cut_face(name, photo, Image.open(SHARED_FACES / name / photo))
                 for name, _, photos in SHARED_PEOPLE for photo in photos]
        return references, faces, f"{SHARED_FACES} (4 people enrolled from another photo of them, 1 stranger)"
    return package_people()


def package_people() -> tuple[dict[str, Path], list[Face], str]:
    """Grace Hopper (matplotlib: enrolled as is, pasted mirrored) and the astronaut (scikit-image: a stranger)."""
    import matplotlib.cbook
    from PIL import Image
    from skimage import data

    hopper = Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    mirrored = Image.open(hopper).transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    faces = [cut_face("grace_hopper", "grace_hopper.jpg, mirrored", mirrored),
             cut_face("astronaut", "astronaut", Image.fromarray(data.astronaut()))]
    return {"grace_hopper": hopper}, faces, "matplotlib's grace_hopper.jpg (enrolled) and skimage's astronaut"


def cut_face(person: str, photo_name: str, photo) -> Face:  # photo: PIL.Image.Image
    """The largest face of ``photo`` and the head around it (twice the face's side), soft-edged."""
    from PIL import Image, ImageFilter

    from enrollment import face

    photo = photo.convert("RGB")
    photo.thumbnail((1200, 1200))
    rgb = np.asarray(photo)
    box = face.detect_faces(rgb, 1, "hog")[0]
    side = box.size_px
    centre_y, centre_x = (box.top + box.bottom) // 2, (box.left + box.right) // 2
    padded = np.pad(rgb, ((side, side), (side, side), (0, 0)), mode="edge")  # a face near the photo's edge
    head = padded[centre_y:centre_y + 2 * side, centre_x:centre_x + 2 * side]
    y, x = np.mgrid[0:2 * side, 0:2 * side].astype(np.float32) - side
    inside = (x / (0.8 * side)) ** 2 + (y / (0.95 * side)) ** 2 <= 1  # the head and hair, not the photo's corners
    alpha = Image.fromarray((inside * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(side / 20))
    return Face(person, photo_name, np.dstack([head, np.asarray(alpha)]), side)


def backgrounds() -> list[np.ndarray]:
    """scikit-image's photos without people, (h, w, 3) uint8 RGB."""
    from skimage import data

    pictures = [getattr(data, name)() for name in BACKGROUNDS]
    return [np.repeat(p[:, :, None], 3, axis=2) if p.ndim == 2 else p[:, :, :3] for p in pictures]


def make_scenes(faces: list[Face], count: int, seed: int = 0, size: tuple[int, int] = SCENE_SIZE,
                bands: tuple[tuple[int, int], ...] = SIZE_BANDS_PX, max_angle_deg: float = MAX_ANGLE_DEG,
                covered_share: float = COVERED_SHARE) -> list[Scene]:
    """``count`` scenes of ``size`` (width, height), each with one face of every size band, drawn from one
    generator seeded with ``seed``."""
    rng = np.random.default_rng(seed)
    pictures = backgrounds()
    scenes = []
    for _ in range(count):
        canvas = _background(pictures[rng.integers(len(pictures))], size, rng)
        pasted: list[Pasted] = []
        for low, high in sorted(bands, reverse=True):  # the largest first: it is the hardest to fit
            chosen = faces[rng.integers(len(faces))]
            side = round(float(np.exp(rng.uniform(np.log(low), np.log(high)))))
            angle = float(rng.uniform(-max_angle_deg, max_angle_deg))
            covered = bool(rng.random() < covered_share)
            place = _free_place(side, size, [p.box for p in pasted], rng)
            if place is None:
                continue
            cover = _cover_patch(pictures[rng.integers(len(pictures))], rng) if covered else None
            pasted.append(paste_face(canvas, chosen, side, angle, place, cover, rng))
        scenes.append(Scene(canvas, pasted))
    return scenes


def _background(picture: np.ndarray, size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A random part of ``picture`` scaled to fill ``size`` (width, height)."""
    from PIL import Image

    width, height = size
    scale = max(width / picture.shape[1], height / picture.shape[0]) * rng.uniform(1.0, 1.6)
    big = np.asarray(Image.fromarray(picture).resize(
        (int(np.ceil(picture.shape[1] * scale)), int(np.ceil(picture.shape[0] * scale))), Image.BILINEAR))
    top, left = rng.integers(big.shape[0] - height + 1), rng.integers(big.shape[1] - width + 1)
    return big[top:top + height, left:left + width].copy()


def _free_place(side: int, size: tuple[int, int], taken: list[Box],
                rng: np.random.Generator) -> tuple[int, int] | None:
    """A centre (y, x) for a face of ``side`` wholly in the scene, its head (up to 1.45 × ``side`` from its
    centre once turned) clear of the faces already ``taken``; None when 100 tries find none."""
    width, height = size
    for _ in range(100):
        y, x = int(rng.integers(side // 2, height - side // 2)), int(rng.integers(side // 2, width - side // 2))
        if all(max(abs(y - (t + b) / 2), abs(x - (lft + r) / 2)) > (b - t) / 2 + 1.45 * side
               for t, r, b, lft in taken):
            return y, x
    return None


def _cover_patch(picture: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A 64 × 64 piece of ``picture``: what covers part of a face."""
    top, left = rng.integers(picture.shape[0] - 64), rng.integers(picture.shape[1] - 64)
    return picture[top:top + 64, left:left + 64]


def paste_face(canvas: np.ndarray, chosen: Face, side: int, angle: float, centre: tuple[int, int],
               cover: np.ndarray | None = None, rng: np.random.Generator | None = None) -> Pasted:
    """Draw ``chosen`` into ``canvas`` (h, w, 3) with its face ``side`` px, turned by ``angle`` degrees
    (counter-clockwise), centred at ``centre`` (y, x); ``cover``: a patch laid over a quarter to two fifths
    of the face from a side ``rng`` draws (before turning). Returns where the face is."""
    from PIL import Image

    head = chosen.head.copy()
    if cover is not None:
        rng = rng or np.random.default_rng(0)
        n, face_px = head.shape[0], chosen.face_px
        depth = int(rng.uniform(0.25, 0.4) * face_px)
        face_top, face_left = (n - face_px) // 2, (n - face_px) // 2
        patch = np.asarray(Image.fromarray(cover).resize((face_px, face_px)))
        mask = np.zeros((n, n), bool)
        edge = rng.integers(3)  # the chin and mouth, the left or the right of the face
        if edge == 0:
            mask[face_top + face_px - depth:face_top + face_px, face_left:face_left + face_px] = True
        elif edge == 1:
            mask[face_top:face_top + face_px, face_left:face_left + depth] = True
        else:
            mask[face_top:face_top + face_px, face_left + face_px - depth:face_left + face_px] = True
        region = np.zeros((n, n, 3), np.uint8)
        region[face_top:face_top + face_px, face_left:face_left + face_px] = patch
        head[mask, :3], head[mask, 3] = region[mask], 255
    scale = side / chosen.face_px
    image = Image.fromarray(head).resize((max(2, round(head.shape[1] * scale)),) * 2, Image.LANCZOS)
    image = image.rotate(angle, resample=Image.BICUBIC, expand=True)
    sprite = np.asarray(image).astype(np.float32)
    top, left = centre[0] - sprite.shape[0] // 2, centre[1] - sprite.shape[1] // 2
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + sprite.shape[0], canvas.shape[0]), min(left + sprite.shape[1], canvas.shape[1])
    part = sprite[y0 - top:y1 - top, x0 - left:x1 - left]
    alpha = part[..., 3:] / 255
    canvas[y0:y1, x0:x1] = (alpha * part[..., :3] + (1 - alpha) * canvas[y0:y1, x0:x1]).astype(np.uint8)
    centre_y, centre_x = centre
    box = (centre_y - side // 2, centre_x + side - side // 2, centre_y + side - side // 2, centre_x - side // 2)
    return Pasted(chosen.person, chosen.photo, box, side, angle, cover is not None)
