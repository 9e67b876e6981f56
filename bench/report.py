"""Readable lines for `make bench`: plain-text tables, and the speed-at-scale reports (memory on long media,
the worker pool, video faces, workers through RabbitMQ)."""

from __future__ import annotations

from typing import Any


def table(headers: list[str], rows: list[list[str]]) -> list[str]:
    """Plain-text columns: the first left-aligned, the others right-aligned."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        return "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(cells, widths,
                                                                                                       strict=True)))
    return [line(headers), line(["-" * w for w in widths]), *(line(row) for row in rows)]


def memory_lines(result: dict[str, Any]) -> list[str]:
    """:func:`bench.memory.run`'s result: peak resident memory of ``likeness scan`` on a long podcast."""
    hours = result["duration_s"] / 3600
    lines = [f"likeness scan of a {hours:.1f}-hour podcast in a child process:",
             f"  peak resident memory {result['peak_rss_mib']:.0f} MiB (target < {result['target_mib']} MiB: "
             f"{'met' if result['met'] else 'NOT met'}); {result['wall_s']:.0f} s wall, {result['cpu_s']:.0f} s CPU, "
             f"{result['x_realtime']:.0f}× real time; {result['detections']} detection(s)"]
    whole = result.get("whole_file")
    if whole:
        lines.append(f"  the same scan decoding the whole file first (the old path): {whole['peak_rss_mib']:.0f} MiB")
    return lines


def pool_lines(result: dict[str, Any]) -> list[str]:
    """:func:`bench.pool_throughput.run`'s result: a batch scanned in this process and on worker processes."""
    audio, start_up = result["audio"], result["start_up_s"]
    lines = [f"A batch of {audio['files']} files, {audio['total_s'] / 60:.0f} min ({audio['source']}), against "
             f"{audio['performers']} performers",
             "  worker start-up by start method: " + "; ".join(f"{name} {s:.1f} s" for name, s in start_up.items()),
             "  each batch is timed with its workers started and their model loaded (start-up s, apart), as this",
             "  process and the baseline have loaded theirs"]
    header = (f"  {'mode':<40} {'wall s':>7} {'× real time':>12} {'audio s / CPU s':>16} {'detections':>11} "
              f"{'start-up s':>11}")
    lines.append(header)
    for run in result["runs"]:
        found = "—" if run["label"] == "baseline" else str(sum(map(len, run["detections"])))
        label = "naive baseline (resemblyzer, 1 process)" if run["label"] == "baseline" else run["label"]
        lines.append(f"  {label:<40} {run['wall_s']:>7.1f} {run['x_realtime']:>11.0f}× "
                     f"{run['audio_per_cpu_s']:>16.0f} {found:>11} {run['start_up_s']:>11.1f}")

    def ratios(by_workers: dict) -> str:
        return ", ".join(f"{n} worker(s) {ratio:.2f}×" for n, ratio in by_workers.items())

    targets = result["targets"]
    lines += [f"  against this process: {ratios(result['speed_up_vs_in_process'])}; against one worker: "
              f"{ratios(result['speed_up_vs_one_worker'])}; same detections in every mode: "
              f"{'yes' if result['same_detections'] else 'NO'}",
              f"  Target, a pool sized to the cores: ≥ {targets['x_realtime_min']:.0f}× real time and ≥ "
              f"{targets['vs_baseline_min']:g}× the naive baseline: {'met' if targets['met'] else 'NOT met'} "
              f"({targets['x_realtime']:.0f}×, {targets['vs_baseline']:.2f}× the baseline; in one process "
              f"{targets['in_process_vs_baseline']:.2f}×)",
              f"  Target, 10,000 performers < {targets['extra_pct_max']:g} % more than 10 on that pool: "
              f"{'met' if targets['extra_met'] else 'NOT met'} ({targets['extra_pct']:+.1f} % wall-clock, "
              f"{targets['extra_cpu_pct']:+.1f} % CPU: medians of {result['repeats']} paired runs; fastest runs "
              f"{targets['extra_pct_fastest']:+.1f} %; the clone found in the same files: "
              f"{'yes' if result['same_found_large'] else 'NO'})"]
    return lines


def video_lines(result: dict[str, Any]) -> list[str]:
    """:func:`bench.video_throughput.run`'s result: video faces against face_recognition's naive path (HOG on every
    whole frame, the target's baseline) and, where another detector is configured, against that detector's."""
    video, ours, base, quality = result["video"], result["ours"], result["baseline"], result["quality"]
    video_4k, targets, detector = result["video_4k"], result["targets"], result.get("detector", "hog")

    def row(label: str, timed: dict[str, Any]) -> str:
        return (f"  {label:<58} {timed['best_s']:>6.2f} {timed['cpu_best_s']:>6.2f} {timed['x_realtime']:>11.0f}× "
                f"{timed['faces']:>6}")

    naive = "face_locations" if detector == "hog" else detector
    lines = [f"A {video['duration_s']:.0f} s {video['width']} × {video['height']} video at {video['fps']} fps "
             f"({video['source']}), sampled at 1 frame/s; detector {detector}; fastest of {result['repeats']} runs",
             f"  {'path':<58} {'s':>6} {'CPU s':>6} {'× real time':>12} {'faces':>6}",
             row(f"naive: decode, {naive} + face_encodings per frame", base)]
    if result.get("baseline_hog"):
        lines.append(row("naive with HOG: face_locations + face_encodings per frame", result["baseline_hog"]))
    lines += [row("ours: analyse(video), end to end", ours),
              f"  speed-up {result['speedup']:.1f}× wall-clock, {result['speedup_cpu']:.1f}× CPU over "
              f"face_recognition's naive path (target ≥ {targets['speedup_min']:g}×: "
              f"{'met' if targets['speedup_met'] else 'NOT met'})"
              + (f"; {result['speedup_same_detector']:.1f}× wall-clock, {result['speedup_same_detector_cpu']:.1f}× CPU "
                 f"over {detector} on every whole frame" if result.get("baseline_hog") else ""),
              f"  same performers detected as the naive path with {detector}: "
              f"{'yes' if quality['same_performers'] else 'NO'}",
              f"  4K ({video_4k['width']} × {video_4k['height']}, {video_4k['duration_s']:.0f} s) likeness scan: "
              f"peak resident memory {video_4k['peak_rss_bytes'] / 2**20:.0f} MiB (target < "
              f"{targets['rss_4k_max_bytes'] / 2**20:.0f} MiB: {'met' if targets['rss_4k_met'] else 'NOT met'})"]
    return lines


CPU_HEADERS = ["CPU s: command", "its pool", "workers", "PostgreSQL", "RabbitMQ", "rest of machine"]


def _cpu_cells(cpu_s: dict[str, float]) -> list[str]:
    """A run's CPU seconds by part (bench.worker_throughput.timed's), in the order of CPU_HEADERS."""
    return [f"{cpu_s[part]:.1f}" for part in ("command", "pool", "workers", "PostgreSQL", "RabbitMQ", "other")]


def worker_lines(result: dict[str, Any]) -> list[str]:
    """:func:`bench.worker_throughput.run`'s result: scans and a crawl through Celery workers, against one process and
    the command's own pool."""
    if "skipped" in result:
        return [f"skipped: {result['skipped']}"]
    audio, box, targets, scans = result["audio"], result["machine"], result["targets"], result["scans"]
    lines = [f"likeness scan of {audio['files']} mp3, {audio['total_s'] / 60:.1f} min ({audio['source']}); a fresh "
             f"PostgreSQL database, home and virtual host each run; workers started and warmed up before the clock "
             f"(their start apart); fastest of {result['repeats']} runs, interleaved; {box['cpus']} CPUs, load "
             f"average {box['load_average_1min_start']:.1f} before, {box['load_average_1min_end']:.1f} after",
             "span: from the first file recorded to the last result stored; start-up: command start to first file "
             "recorded; last wait: last result stored to the command's end"]
    lines += table(["mode", "wall s", "all runs s", "media s / wall s", "files/s", "span s", "media s / span s",
                    "start-up s", "last wait s", "detections", "workers' start s"], [
        [s["label"], f"{s['wall_s']:.2f}", " ".join(f"{w:.1f}" for w in s["all_wall_s"]), f"{s['x_realtime']:.0f}",
         f"{s['files_per_s']:.2f}", f"{s['span_s']:.2f}", f"{s['span_x_realtime']:.0f}", f"{s['before_first_s']:.2f}",
         f"{s['after_last_s']:.2f}", str(sum(s["detections"])),
         f"{s['workers_start_up_s']:.1f}" if s["workers"] else "—"] for s in scans])
    lines += ["", "CPU seconds during each command of the table above (rest of machine: whatever else ran)"]
    lines += table(["mode", *CPU_HEADERS], [[s["label"], *_cpu_cells(s["cpu_s"])] for s in scans])
    lines += ["", "Per analysis task, ms (medians; claims timed by a trigger in the database, results by "
              "media.analysed_at; steady: (last result − first) ÷ (files − 1))"]
    lines += table(["mode", "result → next claim", "claim → result", "steady per file"], [
        [s["label"], f"{s['per_task']['idle_ms']:.1f}", f"{s['per_task']['busy_ms']:.0f}",
         "—" if s["per_task"]["steady_ms"] is None else f"{s['per_task']['steady_ms']:.0f}"]
        for s in scans if s["per_task"]])
    crawls = result["crawls"]
    lines += ["", "likeness crawl of the lean site (500 pages; 200 media of random bytes, each refused by analysis)"]
    lines += table(["mode", "wall s", "all runs s", "pages/s", "media", "refused", *CPU_HEADERS], [
        [c["label"], f"{c['wall_s']:.2f}", " ".join(f"{w:.1f}" for w in c["all_wall_s"]), f"{c['pages_per_s']:.0f}",
         str(c["media_analysed"]), str(c["refused"]), *_cpu_cells(c["cpu_s"])] for c in crawls])
    lines += ["", f"Target, 2 workers ≥ {targets['speed_up_min']:g}× 1 worker (their throughput, first file recorded "
              f"to last result stored): {'met' if targets['speed_up_met'] else 'NOT met'} "
              f"({result['span_speed_up']:.2f}×; the whole command {result['speed_up']:.2f}×, its start-up and last "
              f"wait being its own); same detections in every mode: {'yes' if result['same_detections'] else 'NO'}",
              f"Target, the broker's own cost < {targets['per_task_ms_max']:g} ms per task (1 worker, from a result "
              f"stored to the next claim): {'met' if targets['per_task_met'] else 'NOT met'} "
              f"({targets['per_task_ms']:.1f} ms); whole extra per file against one process: "
              f"{result['whole_extra_per_file_ms']:+.0f} ms",
              f"Target, a crawl through 2 workers within {targets['crawl_pct_max']:g} % of the own pool of 2: "
              f"{'met' if targets['crawl_met'] else 'NOT met'} ({targets['crawl_pct']:+.1f} %); the crawling process's "
              f"own CPU with the broker: {result['crawl_sender_extra_cpu_per_media_ms']:+.0f} ms per media"]
    return lines
