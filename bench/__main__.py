"""``python -m bench`` (``make bench``): run every benchmark, print a readable report or ``--json``.

Progress goes to stderr, so that ``--json`` leaves stdout holding one JSON document. Without
``--only``, each benchmark runs as ``python -m bench --only NAME --json`` in a process of its own, so
that none is measured in a process that an earlier one has loaded, grown or left threads in.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from bench import (
    crawl_throughput,
    face_detection,
    memory,
    pool_throughput,
    report,
    video_throughput,
    voice_throughput,
    web_api,
    worker_throughput,
)
from bench.report import table
from enrollment import voice  # noqa: F401  (first: it sets OMP_WAIT_POLICY before torch loads anywhere)


def machine() -> dict[str, Any]:
    """CPU count, CPU model (from /proc/cpuinfo), Python, torch and its thread count."""
    import torch

    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu_count": os.cpu_count(), "cpus_usable": usable, "cpu_model": model,
            "python": platform.python_version(), "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(), "cuda": torch.cuda.is_available(),
            "load_average_1min_start": os.getloadavg()[0]}


# ------------------------------------------------------------------------------------------ report


def voice_report(result: dict[str, Any]) -> list[str]:
    """The readable tables of :func:`bench.voice_throughput.run`'s result."""
    audio, duration_s = result["audio"], result["audio"]["duration_s"]
    scans, extra, targets = result["end_to_end"], result["extra_pct_largest_vs_smallest"], result["targets"]
    sizes = sorted({s["performers"] for s in scans})
    lines = [f"Audio: {duration_s / 60:.1f} min ({duration_s:.0f} s), {audio['format']}", f"  {audio['source']}",
             "Model load, not counted below: " + "; ".join(f"{k} {v:.2f} s" for k, v in result["model_load_s"].items()),
             f"Inference on {result['device']}. Each time is the fastest of {result['repeats']} runs (on a shared "
             "machine other work only adds time); median alongside.",
             "× real time = audio seconds per wall-clock second; audio h per CPU-h = audio / process CPU time.",
             "", "End to end: Scanner(config, sessions) loads the gallery (once per command), then .scan(file) =",
             "ingest (sha256 + copy) → probe → decode → VAD → embed → match → detections stored; fresh home each run."]
    lines += table(
        ["torch threads", "performers", "gallery load s", "scan s", "median s", "× real time", "(median)",
         "audio h per CPU-h", "detections", "clone found"],
        [[str(s["torch_threads"]), f"{s['performers']:,}", f"{s['gallery_load_s']:.3f}", f"{s['scan_best_s']:.2f}",
          f"{s['scan_median_s']:.2f}", f"{s['x_realtime']:.0f}×", f"{s['x_realtime_median']:.0f}×",
          f"{s['audio_per_cpu_s']:.0f}", str(s["detections"]), "yes" if s["target_detected"] else "NO"]
         for s in scans])
    gallery, first = result["gallery_extra_s"], scans[0]["scan_best_s"]
    lines += [f"{sizes[-1]:,} vs {sizes[0]:,} performers, whole scans: " + "; ".join(
                  f"{pct['wall']:+.1f} % wall-clock, {pct['cpu']:+.1f} % CPU time with {threads} thread(s)"
                  for threads, pct in extra.items()),
              f"  measured stage by stage: match_voice {1000 * gallery['match_voice_per_file_s']:+.0f} ms per file "
              f"({100 * gallery['match_voice_per_file_s'] / first:+.1f} % of a {sizes[0]:,}-performer scan), "
              f"load_gallery {1000 * gallery['load_gallery_per_command_s']:+.0f} ms once per command", "",
              "Baseline, resemblyzer's own path per file, same file and run: preprocess_wav(path) = librosa decode",
              "+ resample + normalise + trim_long_silences; embed_utterance(wav) = mel + encoder → one embedding."]
    lines += table(["torch threads", "preprocess_wav s", "embed_utterance s", "total s", "× real time"], [
        [str(b["torch_threads"]), f"{b['preprocess_wav']['best_s']:.2f}", f"{b['embed_utterance']['best_s']:.2f}",
         f"{b['total_best_s']:.2f}", f"{b['x_realtime']:.0f}×"] for b in result["baseline"]])
    stages = result["breakdown"]
    lines += ["", f"Stages, project functions called directly, torch threads {stages['torch_threads']} "
              f"({stages['speech_s']:.0f} s of speech kept, {stages['partials']} partials, "
              f"{stages['windows']} windows)"]
    lines += table(["stage", "s", "median s", "× real time"], [
        [name, f"{t['best_s']:.3f}", f"{t['median_s']:.3f}", f"{t['x_realtime']:.0f}×"]
        for name, t in stages["stages"].items()])
    stage_sum = sum(t["best_s"] for name, t in stages["stages"].items()
                    if not name.startswith(("  ", "load_gallery")) and not name.endswith(f" {sizes[0]:,} performers"))
    whole = min(s["scan_best_s"] for s in scans
                if s["torch_threads"] == stages["torch_threads"] and s["performers"] == sizes[-1])
    lines.append(f"Sum of the stages for {sizes[-1]:,} performers: {stage_sum:.2f} s; whole scan {whole:.2f} s "
                 f"(the rest: database writes, Scanner bookkeeping, run-to-run noise)")
    lines += ["", f"Target ≥ {targets['x_realtime_min']:.0f}× real time end to end: "
              f"{'met' if targets['x_realtime_met'] else 'NOT met'} ({targets['x_realtime_worst_size']:.0f}× "
              f"with {targets['torch_threads']} torch thread(s), the faster setting)",
              f"Target {sizes[-1]:,} performers < {targets['extra_pct_max']:.0f} % more than {sizes[0]:,}: "
              f"{'met' if targets['extra_pct_met'] else 'NOT met'} "
              f"({targets['extra_pct']:+.1f} % wall-clock, same setting)"]
    return lines


# --only NAME: its key in the results
PARTS = {"voice": "voice_throughput", "crawl": "crawl_throughput", "video": "video_throughput",
         "faces": "face_detection", "pool": "pool_throughput", "memory": "memory", "web": "web_api",
         "workers": "worker_throughput"}


def _run_part(part: str, scratch: Path, options: argparse.Namespace) -> dict[str, Any]:
    """One benchmark in this process; ``scratch`` an empty directory."""
    if part == "voice":
        _progress(f"voice throughput (scratch {scratch})")
        return voice_throughput.run(scratch, options.minutes, options.repeats, _progress)
    if part == "crawl":
        return crawl_throughput.run(scratch, _progress)
    if part == "video":
        _progress("video faces")
        return video_throughput.run(scratch, log=_progress)
    if part == "faces":
        _progress("face detection: YuNet and HOG on still scenes")
        return face_detection.run(log=_progress)
    if part == "pool":
        _progress("worker pool")
        return pool_throughput.run(scratch, log=_progress)
    if part == "web":
        return web_api.run(scratch, _progress)
    if part == "workers":
        return worker_throughput.run(scratch, _progress)
    _progress(f"memory on a {options.podcast_hours:g}-hour podcast")
    return memory.run(scratch, options.podcast_hours, whole_file=False, log=_progress)


def _run_apart(part: str, options: argparse.Namespace) -> dict[str, Any]:
    """``python -m bench --only PART --json`` in a child process: its results (progress goes to stderr)."""
    import subprocess

    command = [sys.executable, "-m", "bench", "--only", part, "--json", "--minutes", str(options.minutes),
               "--repeats", str(options.repeats), "--podcast-hours", str(options.podcast_hours)]
    child = subprocess.run(command, stdout=subprocess.PIPE, check=False)
    if child.returncode != 0:
        raise SystemExit(f"the {part} benchmark failed (exit status {child.returncode}); its messages are above")
    return {PARTS[part]: json.loads(child.stdout)[PARTS[part]]}


def _progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the results as one JSON document")
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the scanned recording (default 10)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement; the median is reported")
    parser.add_argument("--only", choices=tuple(PARTS), default=None,
                        help="run one benchmark only")
    parser.add_argument("--podcast-hours", type=float, default=3.0, help="length of the memory benchmark's podcast")
    options = parser.parse_args(argv)
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated")

    started = time.perf_counter()
    results: dict[str, Any] = {"machine": machine()}
    if options.only is None:  # each benchmark in a process of its own: what one leaves behind must not slow the next
        for part in PARTS:
            results |= _run_apart(part, options)
    else:
        with tempfile.TemporaryDirectory(prefix="likeness-bench-") as scratch:
            results[PARTS[options.only]] = _run_part(options.only, Path(scratch), options)
    results["total_s"] = time.perf_counter() - started

    if options.json:
        print(json.dumps(results, indent=2, default=str))
        return 0
    box = results["machine"]
    print("Likeness Monitor benchmark")
    print(f"Machine: {box['cpu_count']} CPUs ({box['cpus_usable']} usable), {box['cpu_model']}; "
          f"Python {box['python']}, torch {box['torch']} ({box['torch_threads']} threads, "
          f"CUDA {'yes' if box['cuda'] else 'no'})")
    if "voice_throughput" in results:
        spread = max(s["scan_median_s"] / s["scan_best_s"] - 1 for s in results["voice_throughput"]["end_to_end"])
        busy = box["load_average_1min_start"] > 0.5 * box["cpus_usable"] or spread > 0.15
        print(f"Load average before the benchmark: {box['load_average_1min_start']:.1f} (1 min); slowest median "
              f"scan {100 * spread:.0f} % above its fastest run"
              + (" — BUSY: other processes shared the CPUs, so wall-clock figures are pessimistic (CPU time is "
                 "steadier)" if busy else " — the machine was quiet"))
        print()
        print("== Voice throughput ==")
        print("\n".join(voice_report(results["voice_throughput"])))
        print()
    if "crawl_throughput" in results:
        print("== Crawl throughput ==")
        print("\n".join(crawl_throughput.report_lines(results["crawl_throughput"])))
        print()
    for key, title, lines in (("video_throughput", "Video faces", report.video_lines),
                              ("face_detection", "Face detection", face_detection.report_lines),
                              ("pool_throughput", "Worker pool", report.pool_lines),
                              ("memory", "Memory on long media", report.memory_lines),
                              ("web_api", "REST API under load", web_api.report_lines),
                              ("worker_throughput", "Workers through RabbitMQ", report.worker_lines)):
        if key in results:
            print(f"== {title} ==")
            print("\n".join(lines(results[key])))
            print()
    print(f"(benchmark took {results['total_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
