"""`make demo`: the main job end to end on media made on the spot, through the real CLI.

Enrols a performer (consent, two reference recordings, a reference photo where matplotlib's sample
photo is installed), then scans a clip in her voice, a clip in another voice and a video with her
face and voice, shows the alerts waiting in the outbox (no mail server is configured), exports the
first detection as a signed evidence bundle and verifies it, printing each command with its output.
Everything lives in ./likeness-demo, made afresh on every run.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from monitor.demo.synthetic import OTHER_VOICE, PERFORMER_VOICE, TEXTS, synthesise, write_audio, write_video

DEMO_DIR = Path("likeness-demo")


def _likeness(*args: str | Path) -> str:
    command = [str(Path(sys.executable).parent / "likeness"), "--home", str(DEMO_DIR / "home"), *map(str, args)]
    print(f"\n$ likeness {' '.join(shlex.quote(str(a)) for a in args)}", flush=True)
    result = subprocess.run(command, capture_output=True, text=True)
    print(result.stdout.rstrip())
    if result.stderr.strip():
        print(result.stderr.rstrip())
    if result.returncode not in (0, 1):
        raise SystemExit(f"demo failed: `likeness {args[0]}` exited with {result.returncode}")
    return result.stdout


def _sample_photo() -> Path | None:
    try:
        import matplotlib.cbook
    except ImportError:
        return None
    return Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))


def make_media(media_dir: Path, photo: Path | None) -> dict[str, Path]:
    """Reference clips, a clip of the performer, one of a stranger and (with a photo) a video."""
    media_dir.mkdir(parents=True)
    pause = np.zeros(8000, np.float32)
    files = {
        "reference_1": write_audio(media_dir / "reference-1.wav", synthesise(TEXTS[0], PERFORMER_VOICE)),
        "reference_2": write_audio(media_dir / "reference-2.flac", synthesise(TEXTS[2], PERFORMER_VOICE)),
        "assistant": write_audio(media_dir / "voice-assistant-demo.mp3", np.concatenate(
            [synthesise(TEXTS[3], OTHER_VOICE), pause, synthesise(TEXTS[1], PERFORMER_VOICE)])),
        "stranger": write_audio(media_dir / "podcast-stranger.m4a", synthesise(TEXTS[1], OTHER_VOICE)),
    }
    if photo is not None:
        from PIL import Image

        face = np.asarray(Image.open(photo).convert("RGB").resize((320, 376)))
        frames = [np.full_like(face, 40)] * 4 + [face] * 10
        files["video"] = write_video(media_dir / "deepfake-ad.mp4", frames, fps=2,
                                     audio=synthesise(TEXTS[3], PERFORMER_VOICE))
    return files


def main() -> None:
    if DEMO_DIR.exists():
        shutil.rmtree(DEMO_DIR)
    photo = _sample_photo()
    print(f"Making demo media in {DEMO_DIR}/media (espeak-ng speech, PyAV containers) ...")
    media = make_media(DEMO_DIR / "media", photo)

    _likeness("init")
    _likeness("performer", "add", "Ada Lovelace", "--email", "ada@example.org", "--email", "agent@example.org",
              "--agency", "Analytical Talent", "--consent-by", "Ada Lovelace")
    _likeness("enroll", "voice", "1", media["reference_1"], media["reference_2"])
    if photo is not None:
        _likeness("enroll", "face", "1", photo)
    _likeness("scan", *[media[name] for name in ("assistant", "stranger", "video") if name in media])
    _likeness("detections", "list")
    print("\nThe alerts wait in the outbox until a mail server is set (LIKENESS_SMTP_HOST, ...); nothing is lost:")
    _likeness("alerts", "list")
    print("\nA signed evidence bundle of the first detection, and its offline check:")
    bundle = DEMO_DIR / "evidence-1.zip"
    _likeness("evidence", "export", "1", "-o", bundle)
    _likeness("evidence", "verify", bundle)
    print("\nThe same scan as JSON, for other tools:")
    _likeness("scan", media["assistant"], "--json")
    print(f"\nDone. Everything is in {DEMO_DIR}/; try `.venv/bin/likeness --home {DEMO_DIR}/home --help`.")


if __name__ == "__main__":
    main()
