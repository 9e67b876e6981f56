"""Video faces throughput: the scan's video path against face_recognition's naive path, and a 4K scan's memory.

- **The video** (bench.video_scenes): about 160 s of 1280 × 720 H.264 at 30 fps, shots with and
  without faces, static and moving, made from photos. Performers are enrolled from other photos of
  the people in it (the real enrolment code, a fresh SQLite home) and the gallery is loaded first.
- **Ours**: ``monitor.analysis.analyse.analyse(video)`` end to end: probe → sampled decode → faces → tracks →
  matches. Models are loaded before timing.
- **Baseline**, measured in the same run: the same sampling (every frame decoded with PyAV, one per
  second kept, converted to RGB at most 1280 px), the configured detector (``face.detector``) on every
  whole sampled frame, then face_recognition's ``face_encodings``. With YuNet configured, the naive path
  with face_recognition's ``face_locations`` (HOG, upsample as configured: the scan's first detector) is
  measured too, as ``baseline_hog``.
- Each is the fastest of ``repeats`` runs; medians and process CPU times alongside. "× real time" is
  video seconds per wall-clock second. A per-shot breakdown comes from one more timed pass of each.
- **Quality**: faces of every sampled frame, ours against the baseline's (same face: boxes overlapping by
  IoU ≥ 0.3), the descriptor distance between the two for each, and the detections each gives once its
  faces go through the same tracks and matching.
- **4K**: a 30 s 3840 × 2160 video with a voice track is scanned by ``likeness scan FILE`` in a child
  process, against a performer enrolled by face and voice (both models run), in a fresh home. The
  child reports its own peak resident memory (VmHWM; see measure_4k for why not ru_maxrss).

``run(work_dir)`` returns a JSON-able dict; its keys: ``video``, ``detector``, ``model_load_s``, ``repeats``,
``baseline`` and ``ours`` (``best_s``, ``median_s``, ``all_s``, ``cpu_best_s``, ``x_realtime``, ``faces``;
ours adds ``stats``), ``baseline_hog`` (the same, or None), ``speedup`` and ``speedup_cpu`` (over face_recognition's
naive path, on which the target is set), ``speedup_same_detector`` and ``speedup_same_detector_cpu`` (over the naive
path with the configured detector), ``per_shot``, ``quality``, ``video_4k``, ``targets``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench import video_scenes
from bench.voice_throughput import time_runs

TARGET_SPEEDUP = 3.0
TARGET_4K_RSS_BYTES = 1 << 30
SIZE_4K = (3840, 2160)


# ------------------------------------------------------------------------------------------ setting up


def enrol(home: Path, cast: list[video_scenes.Person]):  # -> (config, Gallery, {performer id: name})
    """Enrol every person of ``cast`` that has an enrolment photo, in a fresh home; load the gallery."""
    from enrollment.service import add_performer, enroll_face
    from monitor.config import load_config
    from monitor.matching.gallery import load_gallery
    from monitor.storage.db import open_database

    config = load_config(home)
    sessions = open_database(config.database_url)
    names = {}
    with sessions.begin() as session:
        for person in {p.name: p for p in cast if p.enrol_photo is not None}.values():
            performer = add_performer(session, person.name, consent_by=person.name)
            result = enroll_face(session, performer.id, person.enrol_photo, config.face, config.media,
                                 pick_largest=True)
            if not result.accepted:
                raise RuntimeError(f"{person.enrol_photo}: {result.reason}")
            names[performer.id] = person.name
    with sessions() as session:
        gallery = load_gallery(session)
    sessions.kw["bind"].dispose()
    return config, gallery, names


def shot_spans(scenes: list[video_scenes.Shot]) -> list[dict[str, Any]]:
    """Each shot's name and its start and end in seconds."""
    spans, start = [], 0.0
    for shot in scenes:
        spans.append({"name": shot.name, "start_s": start, "end_s": start + shot.seconds, "faces": shot.faces})
        start += shot.seconds
    return spans


# ---------------------------------------------------------------------------------------------- passes


def baseline_pass(path: Path, limits, upsample: int,
                  detector: str = "hog") -> list[tuple[float, float, np.ndarray, np.ndarray]]:
    """The naive path: ``(time_s, seconds spent, boxes (N, 4), encodings (N, 128))`` per sampled frame.

    Every frame decoded (PyAV, threaded), the first at or after each ``frame_every_s`` kept and converted to
    RGB of at most ``max_frame_side_px``, as the scan did before; then the detector on the whole frame
    (``"hog"``: face_recognition's face_locations; ``"yunet"``: enrollment.face.detect_faces) + face_encodings.
    """
    import av

    from enrollment.face import detect_faces, face_api
    from enrollment.media import scaled_size

    api = face_api()
    frames = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        next_time_s, started = 0.0, time.perf_counter()
        for frame in container.decode(stream):
            time_s = float(frame.time)
            if time_s + 1e-6 < next_time_s:
                continue
            next_time_s = time_s + limits.frame_every_s
            width, height = scaled_size(frame.width, frame.height, limits.max_frame_side_px)
            rgb = frame.to_ndarray(format="rgb24", width=width, height=height)
            if detector == "hog":
                locations = api.face_locations(rgb, number_of_times_to_upsample=upsample)
            else:
                # upright only, as the video path searches frames (monitor.video.faces)
                locations = [box.as_list() for box in detect_faces(rgb, upsample, detector, turned=False)]
            encodings = np.asarray(api.face_encodings(rgb, locations), np.float32).reshape(-1, 128)
            now = time.perf_counter()
            frames.append((time_s, now - started, np.asarray(locations, np.int64).reshape(-1, 4), encodings))
            started = now
    return frames


def our_pass(path: Path, config) -> tuple[list[tuple[float, float, np.ndarray, np.ndarray]], dict[str, Any]]:
    """The scan's frame loop (monitor.video.faces) with each sampled frame timed, and the finder's stats."""
    from enrollment.video_frames import sample_video_frames
    from monitor.video.faces import VideoFaceFinder

    finder = VideoFaceFinder(config.face.upsample, config.face.detector)
    frames, started = [], time.perf_counter()
    for frame in sample_video_frames(path, config.media):
        boxes, descriptors = finder.faces(frame)
        now = time.perf_counter()
        frames.append((frame.time_s, now - started, boxes, descriptors))
        started = now
    stats = finder.stats
    return frames, {"frames": stats.frames, "whole_frame_searches": stats.whole_frame_searches,
                    "unchanged_frames": stats.unchanged_frames, "camera_moves": stats.camera_moves,
                    "fades": stats.fades, "zooms": stats.zooms,
                    "searched_fraction_mean": float(np.mean(stats.searched_fraction or [0.0])),
                    "faces_kept": stats.faces_kept, "descriptors_computed": stats.descriptors_computed,
                    "descriptors_reused": stats.descriptors_reused}


def detections(frames, config, gallery, names: dict[int, str]) -> list[dict[str, Any]]:
    """The detections a list of per-frame faces gives through the scan's tracks and matching."""
    from monitor.analysis.analyse import face_calibration
    from monitor.video.faces import face_track_matches

    if not frames:
        return []
    decided = face_track_matches(np.concatenate([f[3] for f in frames]),
                                 np.concatenate([np.full(len(f[3]), f[0]) for f in frames]),
                                 np.concatenate([f[2] for f in frames]), config, gallery, face_calibration(config))
    return described(decided.matches, names)


def described(matches, names: dict[int, str]) -> list[dict[str, Any]]:
    return sorted(({"performer": names.get(m.performer_id, m.performer_id), "similarity": round(m.similarity, 3),
                    "segments": [[round(s["start_s"], 1), round(s["end_s"], 1)] for s in m.segments]}
                   for m in matches), key=lambda d: str(d["performer"]))


def compare_faces(baseline, ours) -> dict[str, Any]:
    """Faces per sampled frame, ours against the baseline's: missing, extra, descriptor distances."""
    from monitor.video.face_tracks import box_iou

    missing, extra, distances, frames_differing = 0, 0, [], []
    for (time_s, _, base_boxes, base_codes), (_, _, our_boxes, our_codes) in zip(baseline, ours, strict=True):
        overlap = box_iou(base_boxes, our_boxes) if len(base_boxes) and len(our_boxes) else \
            np.zeros((len(base_boxes), len(our_boxes)))
        lost = int((overlap.max(axis=1, initial=0) < 0.3).sum())
        added = int((overlap.max(axis=0, initial=0) < 0.3).sum())
        for row in range(len(base_boxes)):
            column = int(np.argmax(overlap[row])) if len(our_boxes) else -1
            if column >= 0 and overlap[row, column] >= 0.3:
                distances.append(float(np.linalg.norm(base_codes[row] - our_codes[column])))
        if lost or added:
            frames_differing.append({"time_s": round(time_s, 1), "baseline": len(base_boxes), "ours": len(our_boxes)})
        missing, extra = missing + lost, extra + added
    return {"faces_baseline": sum(len(f[2]) for f in baseline), "faces_ours": sum(len(f[2]) for f in ours),
            "missing": missing, "extra": extra, "frames_differing": frames_differing,
            "descriptor_distance": {"median": float(np.median(distances)), "p90": float(np.percentile(distances, 90)),
                                    "max": float(np.max(distances))} if distances else None}


def per_shot(spans, baseline, ours) -> list[dict[str, Any]]:
    """Seconds spent on each shot's sampled frames (decoding included), baseline and ours, and faces found."""
    rows = []
    for span in spans:
        def within(frames, span=span):
            return [f for f in frames if span["start_s"] - 1e-6 <= f[0] < span["end_s"] - 1e-6]
        base, own = within(baseline), within(ours)
        base_s, own_s = sum(f[1] for f in base), sum(f[1] for f in own)
        rows.append({"shot": span["name"], "seconds": span["end_s"] - span["start_s"], "baseline_s": base_s,
                     "ours_s": own_s, "speedup": base_s / max(own_s, 1e-9),
                     "faces_baseline": sum(len(f[2]) for f in base), "faces_ours": sum(len(f[2]) for f in own)})
    return rows


# ------------------------------------------------------------------------------------------------- 4K


def measure_4k(work: Path, cast: list[video_scenes.Person], log: Callable[[str], None]) -> dict[str, Any]:
    """Peak RSS of ``likeness scan`` on a 30 s 3840 × 2160 video with a voice track, in a child process."""
    from bench.memory import LIKENESS_CLI, peak_bytes, reporting_peak
    from enrollment.errors import LikenessError
    from monitor.demo.synthetic import OTHER_VOICE, PERFORMER_VOICE, TEXTS, synthesise, write_audio

    scenes = [shot for shot in video_scenes.shots(cast) if shot.name.startswith(("talking head", "title card"))]
    try:  # the video's voice track, and two clips to enrol a voice from: the scan then runs both models
        speech = np.concatenate([synthesise(text, OTHER_VOICE) for text in TEXTS[:2]])
        clips = [write_audio(work / f"voice-{i}.wav", synthesise(TEXTS[i], PERFORMER_VOICE)) for i in (2, 3)]
    except LikenessError:
        speech, clips = None, []
    started = time.perf_counter()
    path = video_scenes.write_video(work / "video-4k.mp4", scenes, audio=speech, size=SIZE_4K, noise_sigma=0,
                                    preset="superfast")
    log(f"4K video written in {time.perf_counter() - started:.0f} s ({path.stat().st_size / 1e6:.0f} MB)")
    likeness = str(Path(sys.executable).parent / "likeness")
    environment = {key: value for key, value in os.environ.items() if key != "LIKENESS_DATABASE_URL"}
    environment["LIKENESS_HOME"] = str(work / "home-4k")
    enrolled = next(p for p in cast if p.enrol_photo is not None)
    for command in (["init"], ["performer", "add", enrolled.name, "--consent-by", enrolled.name],
                    ["enroll", "face", "1", str(enrolled.enrol_photo), "--pick", "largest"],
                    *([["enroll", "voice", "1", *map(str, clips)]] if clips else [])):
        subprocess.run([likeness, *command], env=environment, check=True, capture_output=True)
    started = time.perf_counter()
    scan = subprocess.run([*reporting_peak(LIKENESS_CLI), "scan", str(path), "--json"], env=environment,
                          capture_output=True)
    scan_s = time.perf_counter() - started
    output, peak = peak_bytes(scan.stdout.decode())
    rows = json.loads(output or "[]")
    return {"width": SIZE_4K[0], "height": SIZE_4K[1], "duration_s": sum(s.seconds for s in scenes),
            "has_audio": speech is not None, "voice_enrolled": bool(clips), "size_mb": path.stat().st_size / 1e6,
            "exit_code": scan.returncode, "scan_s": scan_s, "peak_rss_bytes": peak, "peak_rss_mib": peak / 2**20,
            "detections": [f"{d['performer_name']} ({d['modality']})" for row in rows for d in row["detections"]],
            "target_met": scan.returncode == 0 and peak < TARGET_4K_RSS_BYTES}


# ------------------------------------------------------------------------------------------------- run


def run(work_dir: Path, repeats: int = 3, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Every video measurement; ``work_dir`` is an empty scratch directory. Returns a JSON-able dict."""
    from enrollment import face
    from monitor.analysis.analyse import analyse

    os.environ.pop("LIKENESS_DATABASE_URL", None)  # never write benchmark performers into a real database
    started = time.perf_counter()
    face.face_api()
    face.face_model_version()
    load_s = time.perf_counter() - started
    cast, source = video_scenes.people()
    scenes = video_scenes.shots(cast)
    spans = shot_spans(scenes)
    log(f"face models loaded in {load_s:.2f} s; writing the test video ({spans[-1]['end_s']:.0f} s)")
    started = time.perf_counter()
    path = video_scenes.write_video(work_dir / "video.mp4", scenes)
    log(f"video written in {time.perf_counter() - started:.0f} s; enrolling")
    config, gallery, names = enrol(work_dir / "home", cast)
    duration_s = spans[-1]["end_s"]

    analyse(path, config, gallery)  # warm: lazy imports, first model calls
    log(f"ours: analyse(video), {repeats} runs")
    ours, analysis = time_runs(lambda: analyse(path, config, gallery), repeats)
    detector, upsample = config.face.detector, config.face.upsample
    log(f"baseline: {detector} + face_encodings per sampled frame, {repeats} runs")
    baseline, base_frames = time_runs(lambda: baseline_pass(path, config.media, upsample, detector), repeats)
    baseline_hog, hog_frames = None, []
    if detector != "hog":
        log(f"baseline with HOG: face_locations + face_encodings per sampled frame, {repeats} runs")
        baseline_hog, hog_frames = time_runs(lambda: baseline_pass(path, config.media, upsample, "hog"), repeats)
    log("per-frame pass of ours, for the per-shot breakdown and the quality check")
    our_frames, stats = our_pass(path, config)
    for timed, frames in ((ours, our_frames), (baseline, base_frames), (baseline_hog, hog_frames)):
        if timed is not None:
            timed.update(x_realtime=duration_s / timed["best_s"], faces=sum(len(f[2]) for f in frames))
    ours["stats"] = stats
    log("4K scan in a child process")
    video_4k = measure_4k(work_dir, cast, log)
    naive_hog = baseline_hog or baseline  # face_recognition's path, on which the target is set
    speedup = naive_hog["best_s"] / ours["best_s"]
    quality = compare_faces(base_frames, our_frames)
    quality["detections_baseline"] = detections(base_frames, config, gallery, names)
    quality["detections_ours"] = described(analysis.matches, names)
    quality["same_performers"] = ([d["performer"] for d in quality["detections_baseline"]]
                                  == [d["performer"] for d in quality["detections_ours"]])
    if baseline_hog is not None:
        quality["detections_baseline_hog"] = detections(hog_frames, config, gallery, names)
    return {
        "video": {"path": str(path), "source": source, "duration_s": duration_s, "width": 1280, "height": 720,
                  "fps": video_scenes.FPS, "size_mb": path.stat().st_size / 1e6, "shots": spans},
        "detector": detector, "model_load_s": load_s, "repeats": repeats, "baseline": baseline, "ours": ours,
        "baseline_hog": baseline_hog, "speedup": speedup, "speedup_cpu": naive_hog["cpu_best_s"] / ours["cpu_best_s"],
        "speedup_same_detector": baseline["best_s"] / ours["best_s"],
        "speedup_same_detector_cpu": baseline["cpu_best_s"] / ours["cpu_best_s"],
        "per_shot": per_shot(spans, base_frames, our_frames), "quality": quality, "video_4k": video_4k,
        "targets": {"speedup_min": TARGET_SPEEDUP, "speedup": speedup, "speedup_met": speedup >= TARGET_SPEEDUP,
                    "rss_4k_max_bytes": TARGET_4K_RSS_BYTES, "rss_4k_bytes": video_4k["peak_rss_bytes"],
                    "rss_4k_met": video_4k["target_met"]},
    }


if __name__ == "__main__":  # python -m bench.video_throughput [WORK_DIR]: the figures as JSON
    import tempfile

    with tempfile.TemporaryDirectory(prefix="likeness-video-bench-") as scratch:
        figures = run(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(scratch),
                      log=lambda message: print(f"[bench] {message}", file=sys.stderr, flush=True))
    print(json.dumps(figures, indent=2, default=str))
