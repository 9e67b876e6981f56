"""Peak memory of scanning a 3-hour podcast: ``likeness scan FILE`` in a process of its own, its peak RSS.

Target (issue 7): under 1 GiB resident. The scan decodes, detects speech and embeds a few minutes at a
time (enrollment.voice_stream). For comparison, the same scan is run again with the voice path reading
the whole recording into one array first, as it did before (``whole_file``): 16 kHz float32 is 690 MB
for 3 hours, before the speech and mel copies.

The podcast is the voice benchmark's 10-minute LibriSpeech programme (espeak-ng where ../shared/data is
absent) written as a 44.1 kHz mono mp3, its packets repeated to the length asked for (no re-encoding,
so writing 3 hours takes seconds). One performer is enrolled from other recordings of the voice that
speaks three times in each 10 minutes.
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

from bench.voice_throughput import build_audio, build_home, fresh_copy, target_voiceprint

TARGET_MIB = 1024
PROGRAMME_MINUTES = 10.0
REPO = Path(__file__).resolve().parents[1]


def write_podcast(directory: Path, hours: float) -> dict[str, Any]:
    """The programme's mp3 packets repeated for ``hours``, with running timestamps: one valid 44.1 kHz mp3.
    Returns the build_audio dict, with ``path`` the long file and ``duration_s`` its length."""
    import av

    directory.mkdir(parents=True, exist_ok=True)
    audio = build_audio(directory, PROGRAMME_MINUTES)
    loops = max(1, round(hours * 60 / PROGRAMME_MINUTES))
    path = directory / "podcast.mp3"
    with av.open(str(path), "w") as out:
        offset, stream = 0, None
        for _ in range(loops):
            with av.open(str(audio["path"])) as programme:
                source = programme.streams.audio[0]
                stream = stream or out.add_stream_from_template(source)
                end = offset
                for packet in programme.demux(source):
                    if packet.dts is None:  # the demuxer's empty packet at the end
                        continue
                    packet.pts += offset
                    packet.dts += offset
                    end = max(end, packet.pts + packet.duration)
                    packet.stream = stream
                    out.mux(packet)
                offset = end
    with av.open(str(path)) as written:
        duration_s = written.duration / av.time_base
    return audio | {"path": path, "duration_s": duration_s, "loops": loops,
                    "format": f"mp3, 44.1 kHz mono, {path.stat().st_size / 1e6:.0f} MB"}


def reporting_peak(code: str) -> list[str]:
    """A command running ``code`` (one line of Python; it sets ``code`` to an exit status) in a child that then
    prints its own peak resident size, ``VmHWM: N kB``, last on stdout: see :func:`peak_bytes`.

    Not the child's ru_maxrss: Linux starts it at the parent's resident size when it was forked (the
    pre-exec high-water mark is kept), which is a benchmark process's, with its models and media.
    """
    return [sys.executable, "-c", "import sys\ncode = 0\ntry:\n    " + code + "\nfinally:\n    sys.stdout.flush()\n"
            "    print(next(line for line in open('/proc/self/status') if line.startswith('VmHWM:')), end='')\n"
            "sys.exit(code)\n"]


LIKENESS_CLI = "from monitor.cli import main; sys.argv[0] = 'likeness'; code = main()"  # `likeness ARGS…` exactly


def peak_bytes(stdout: str) -> tuple[str, int]:
    """A :func:`reporting_peak` child's stdout → (what it printed before, its peak resident size in bytes)."""
    output, _, peak_line = stdout.rpartition("VmHWM:")
    return output, int(peak_line.split()[0]) * 1024  # kB


def measure_scan(home: Path, media: Path, whole_file: bool = False) -> dict[str, Any]:
    """``likeness --home HOME scan MEDIA --json`` in a child process: its peak RSS (MiB), wall time, output."""
    code = "from bench.memory import whole_file_cli; code = whole_file_cli()" if whole_file else LIKENESS_CLI
    command = [*reporting_peak(code), "--home", str(home), "scan", str(media), "--json"]
    env = {key: value for key, value in os.environ.items() if key != "LIKENESS_DATABASE_URL"}
    out_path, err_path = home / "scan.out", home / "scan.err"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, cwd=REPO, env=env)
        # wait4 gives this child's own CPU time (RUSAGE_CHILDREN would mix in every earlier child)
        _, status, usage = os.wait4(process.pid, 0)
        wall_s = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"scan exited with {process.returncode}: {err_path.read_text()[-2000:]}")
    output, peak = peak_bytes(out_path.read_text())
    [row] = json.loads(output)
    return {"peak_rss_mib": peak / 2**20, "wall_s": wall_s, "cpu_s": usage.ru_utime + usage.ru_stime,
            "duration_s": row["duration_s"], "detections": len(row["detections"]),
            "segments": sum(len(d["segments"]) for d in row["detections"])}


def run(work_dir: Path, hours: float = 3.0, whole_file: bool = True,
        log: Callable[[str], None] = print) -> dict[str, Any]:
    """Write the podcast, enrol its performer, scan it in a child process (then, with ``whole_file``, again
    with the whole-file voice path). ``work_dir``: an empty scratch directory. Returns a JSON-able dict:
    ``peak_rss_mib``, ``wall_s``, ``duration_s`` (audio seconds scanned), ``target_mib``, ``met`` and the rest.
    """
    from monitor.config import load_config

    os.environ.pop("LIKENESS_DATABASE_URL", None)  # never write benchmark performers into a real database
    log(f"memory: writing a {hours:g}-hour podcast")
    audio = write_podcast(work_dir / "audio", hours)
    log(f"memory: {audio['duration_s'] / 3600:.2f} h, {audio['format']}; {audio['source']}")
    template = work_dir / "template"
    build_home(template, 1, target_voiceprint(audio.pop("enrol"), load_config(work_dir / "unused")))
    log("memory: likeness scan (streaming voice path)")
    streamed = measure_scan(fresh_copy(template, work_dir / "home-streamed"), audio["path"])
    result = {"audio": {key: str(value) if isinstance(value, Path) else value for key, value in audio.items()},
              **streamed, "x_realtime": streamed["duration_s"] / streamed["wall_s"], "target_mib": TARGET_MIB,
              "met": streamed["peak_rss_mib"] < TARGET_MIB}
    if whole_file:
        log("memory: likeness scan with the whole-file voice path, as before")
        result["whole_file"] = measure_scan(fresh_copy(template, work_dir / "home-whole"), audio["path"], True)
    return result


# ------------------------------------------------------------------------- the whole-file voice path


def _whole_file_voice(path: Path, config, gallery, result) -> None:
    """monitor.analysis.analyse._analyse_voice as it was before the voice path streamed: the whole recording in one
    array, then speech detection, partials and windows over all of it."""
    from enrollment import voice
    from enrollment.media import SAMPLE_RATE_HZ, decode_audio
    from monitor.analysis.analyse import voice_calibration, voice_chance
    from monitor.matching.voice_match import match_voice

    wav = decode_audio(path, config.media)
    result.duration_s = wav.size / SAMPLE_RATE_HZ
    if len(gallery.voice_ids) == 0:
        return
    speech = voice.find_speech(wav, config.voice)
    result.speech_s = round(speech.speech_s, 2)
    windows = voice.window_embeddings(voice.embed_partials(speech, config.voice), config.voice.window_partials)
    decided = match_voice(windows.embeddings, windows.start_s, windows.end_s, gallery, voice_calibration(config),
                          config.scan.merge_gap_s, config.scan.closest_per_modality,
                          config.voice.same_voice_threshold, voice_chance(config))
    result.matches += decided.matches
    result.closest += decided.closest


def whole_file_cli() -> int:
    """``likeness`` (arguments from sys.argv) with the whole-file voice path put back."""
    import monitor.analysis.analyse
    from monitor.cli import main

    monitor.analysis.analyse._analyse_voice = _whole_file_voice
    return main(sys.argv[1:])
