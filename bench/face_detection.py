"""Face detection: YuNet against dlib's HOG detector (the baseline) on still scenes of small, turned and partly
covered faces (``bench.face_scenes``), each found face then described by dlib's descriptor and matched.

- **Scenes**: ``SCENES`` scenes of 640 × 360 px, one face per size band each (16-24, 24-40, 40-80 and 80-200 px,
  the side of dlib's HOG box of that face), turned by up to ±60°, a quarter of them partly covered, on
  photos without people; fixed seed. Faces from ``../shared/data/faces``: the benchmark is skipped with a
  message where that folder is absent.
- **Each detector** runs as a scan runs it on a photo (enrollment.face.detect_faces_adaptive, upsample as
  configured), and its faces are described by dlib's descriptor. The performers' references are their
  reference photos' largest faces, found by the same detector (as enrolment does).
- **Found**: a found box overlapping the pasted face's box by IoU ≥ ``MIN_IOU``. **Identified**: a found face
  of an enrolled person whose closest performer is that person, at the product's face threshold (the
  similarity whose score is ``face.threshold``). **False matches**: found faces whose closest performer at
  that threshold is someone else, a stranger's face matched to anyone included, and found boxes on no
  pasted face that match anyone. **False faces**: found boxes on no pasted face.

``run()`` returns a JSON-able dict; :func:`report_lines` turns it into the readable table.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from bench import face_scenes

SCENES = 60
SEED = 0
MIN_IOU = 0.3
DETECTORS = ("hog", "yunet")  # the baseline first
TURNS_DEG = ((0, 20), (20, 40), (40, 61))  # faces are also counted by how far they are turned (either way)


def run(log: Callable[[str], None] = print, scenes: int = SCENES) -> dict[str, Any]:
    """Every figure of the benchmark; ``{"skipped": reason}`` without ``../shared/data/faces``."""
    from monitor.analysis.analyse import face_calibration
    from monitor.config import load_config

    if not face_scenes.SHARED_FACES.is_dir():
        return {"skipped": f"{face_scenes.SHARED_FACES} is absent: no real faces to paste"}
    config = load_config(face_scenes.SHARED_FACES / "no-such-home")
    references, faces, source = face_scenes.people()
    made = face_scenes.make_scenes(faces, scenes, seed=SEED)
    threshold = face_calibration(config).similarity_threshold
    log(f"{len(made)} scenes, {sum(len(s.faces) for s in made)} faces; similarity threshold {threshold:.3f}")
    results = {}
    for detector in DETECTORS:
        log(f"{detector}: detecting and describing")
        results[detector] = evaluate(made, references, detector, config, threshold)
    return {"source": source, "scenes": len(made), "seed": SEED, "size_px": list(face_scenes.SCENE_SIZE),
            "bands_px": [list(band) for band in face_scenes.SIZE_BANDS_PX],
            "max_angle_deg": face_scenes.MAX_ANGLE_DEG, "covered_share": face_scenes.COVERED_SHARE,
            "similarity_threshold": threshold, "detectors": results}


def gallery(references: dict[str, Any], detector: str, config) -> tuple[list[str], np.ndarray]:
    """Each person's reference descriptor: their photo's largest face by ``detector``: names, (P, 128)."""
    from enrollment import face
    from enrollment.media import load_image

    names, rows = [], []
    for person, path in references.items():
        rgb = load_image(path, config.media)
        boxes = face.detect_faces(rgb, config.face.upsample, detector)
        if boxes:
            names.append(person)
            rows.append(face.encode_faces(rgb, boxes[:1])[0])
    return names, np.array(rows, np.float32).reshape(-1, 128)


def evaluate(scenes: list[face_scenes.Scene], references: dict[str, Any], detector: str, config,
             threshold: float) -> dict[str, Any]:
    """One detector over every scene: per size band and kind of face, and its time."""
    from enrollment import face
    from monitor.video.face_tracks import box_iou

    names, gallery_rows = gallery(references, detector, config)
    outcomes = []  # per pasted face: (band, turn, covered, found, identified, false match, enrolled)
    false_faces = false_face_matches = 0
    detect_s = describe_s = 0.0
    for scene in scenes:
        started = time.perf_counter()
        boxes = face.detect_faces_adaptive(scene.rgb, config.face.upsample, detector=detector)
        detected = time.perf_counter()
        descriptors = face.encode_faces(scene.rgb, boxes)
        detect_s, describe_s = detect_s + detected - started, describe_s + time.perf_counter() - detected
        decided = _closest(descriptors, gallery_rows, names, threshold)
        found = np.array([box.as_list() for box in boxes], np.int64).reshape(-1, 4)
        truth = np.array([p.box for p in scene.faces], np.int64).reshape(-1, 4)
        overlap = box_iou(truth, found) if len(found) and len(truth) else np.zeros((len(truth), len(found)))
        used = set()
        for row, pasted in enumerate(scene.faces):
            column = int(np.argmax(overlap[row])) if len(found) else -1
            hit = column >= 0 and overlap[row, column] >= MIN_IOU and column not in used
            if hit:
                used.add(column)
            who = decided[column] if hit else None
            outcomes.append((_band(pasted.size_px), _turn(pasted.angle_deg), pasted.covered, bool(hit),
                             bool(hit and who == pasted.person), bool(hit and who is not None and who != pasted.person),
                             pasted.person in names))
        extra = [column for column in range(len(found)) if column not in used]
        false_faces += len(extra)
        false_face_matches += sum(decided[column] is not None for column in extra)
    return {"by_band": _tally(outcomes, lambda o: o[0]),
            "by_turn": _tally(outcomes, lambda o: o[1]),
            "covered": _tally([o for o in outcomes if o[2]], lambda o: "all")["all"],
            "all": _tally(outcomes, lambda o: "all")["all"],
            "false_faces": false_faces, "false_faces_matched": false_face_matches,
            "detect_s_per_scene": detect_s / len(scenes), "describe_s_per_scene": describe_s / len(scenes),
            "enrolled": names}


def _closest(descriptors: np.ndarray, gallery_rows: np.ndarray, names: list[str], threshold: float) -> list[str | None]:
    """Each found face's closest performer at ``threshold`` (similarity = 1 - dlib distance), or None."""
    from enrollment import face

    if not len(descriptors) or not len(gallery_rows):
        return [None] * len(descriptors)
    similarity = face.face_similarity(descriptors, gallery_rows)  # (F, P)
    best = similarity.argmax(axis=1)
    return [names[b] if similarity[row, b] >= threshold else None for row, b in enumerate(best)]


def _turn(angle_deg: float) -> str:
    for low, high in TURNS_DEG:
        if low <= abs(angle_deg) < high:
            return f"turned {low}-{high}°"
    return f"turned {abs(angle_deg):.0f}°"


def _band(size_px: int) -> str:
    for low, high in face_scenes.SIZE_BANDS_PX:
        if low <= size_px < high:
            return f"{low}-{high} px"
    return f"{size_px} px"


def _tally(outcomes: list[tuple], key: Callable[[tuple], str]) -> dict[str, dict[str, int]]:
    """Counts per key: faces (of which enrolled people's), found, identified, false matches."""
    tally: dict[str, dict[str, int]] = {}
    for outcome in outcomes:
        counts = tally.setdefault(key(outcome), {"faces": 0, "enrolled_faces": 0, "found": 0, "identified": 0,
                                                 "false_matches": 0})
        counts["faces"] += 1
        counts["enrolled_faces"] += outcome[6]
        counts["found"] += outcome[3]
        counts["identified"] += outcome[4]
        counts["false_matches"] += outcome[5]
    return tally


def report_lines(result: dict[str, Any]) -> list[str]:
    """The readable table of :func:`run`'s result: per size band, HOG (the baseline) beside YuNet."""
    from bench.report import table

    if "skipped" in result:
        return [f"skipped: {result['skipped']}"]
    lines = [f"{result['scenes']} scenes of {result['size_px'][0]} × {result['size_px'][1]} px ({result['source']}),"
             f" one face per size band each, turned up to ±{result['max_angle_deg']:.0f}°, "
             f"{result['covered_share']:.0%} partly covered; seed {result['seed']}",
             f"found: a box overlapping the face by IoU ≥ {MIN_IOU}; identified / false matches: closest performer at "
             f"similarity ≥ {result['similarity_threshold']:.3f} (face.threshold)"]
    rows = []
    hog, yunet = result["detectors"]["hog"], result["detectors"]["yunet"]
    groups = [(band, hog["by_band"][band], yunet["by_band"][band]) for band in hog["by_band"]]
    groups.sort(key=lambda group: int(group[0].split("-")[0]))
    groups += [(turn, hog["by_turn"][turn], yunet["by_turn"][turn]) for turn in sorted(hog["by_turn"])]
    groups += [("partly covered", hog["covered"], yunet["covered"]), ("all", hog["all"], yunet["all"])]
    for label, base, ours in groups:
        rows.append([label, str(base["faces"]), f"{base['found']}", f"{ours['found']}", str(base["enrolled_faces"]),
                     f"{base['identified']}", f"{ours['identified']}", f"{base['false_matches']}",
                     f"{ours['false_matches']}"])
    lines += table(["faces", "pasted", "found HOG", "YuNet", "enrolled", "identified HOG", "YuNet",
                    "false matches HOG", "YuNet"], rows)
    for name in DETECTORS:
        figures = result["detectors"][name]
        lines.append(f"{name}: {figures['false_faces']} boxes on no pasted face ({figures['false_faces_matched']} "
                     f"matched a performer); a scene: detection {1000 * figures['detect_s_per_scene']:.0f} ms, "
                     f"descriptors {1000 * figures['describe_s_per_scene']:.0f} ms")
    return lines


if __name__ == "__main__":  # python -m bench.face_detection: the figures as JSON
    import json
    import sys

    print(json.dumps(run(log=lambda message: print(f"[bench] {message}", file=sys.stderr, flush=True)), indent=2))
