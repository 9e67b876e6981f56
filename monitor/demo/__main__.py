"""`make demo`: the main job end to end on media made on the spot, through the real CLI.

Enrols a performer (consent, two reference recordings, a reference photo where matplotlib's sample
photo is installed), then scans a clip in her voice, a clip in another voice and a video with her
face and voice, shows the alerts waiting in the outbox (no mail server is configured), exports the
first detection as a signed evidence bundle and verifies it, printing each command with its output.
Then it gives the agency an owner and the artist herself as users, and serves the dashboard until Ctrl-C,
printing its address and the demo logins; without a terminal (CI, scripts) it prints them and stops.
Everything lives in ./likeness-demo, made afresh on every run.
"""

from __future__ import annotations

import contextlib
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from monitor.demo.synthetic import OTHER_VOICE, PERFORMER_VOICE, TEXTS, synthesise, write_audio, write_video

DEMO_DIR = Path("likeness-demo")


DEMO_PASSWORD = "likeness-demo-password"  # a demo on this machine only: never a real install's
DEMO_USERS = (("owner@analytical-talent.example", "owner", ()), ("ada@example.org", "artist", ("--performer", "1")))


def _likeness(*args: str | Path, stdin: str | None = None) -> str:
    command = [str(Path(sys.executable).parent / "likeness"), "--home", str(DEMO_DIR / "home"), *map(str, args)]
    print(f"\n$ likeness {' '.join(shlex.quote(str(a)) for a in args)}", flush=True)
    result = subprocess.run(command, capture_output=True, text=True, input=stdin)
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
    print("\nThe dashboard: an owner of the agency, and Ada herself, who sees only her own detections:")
    for email, role, performer in DEMO_USERS:
        _likeness("user", "add", email, "--role", role, *performer, "--password-stdin", stdin=DEMO_PASSWORD + "\n")
    print(f"\nDone. Everything is in {DEMO_DIR}/; try `.venv/bin/likeness --home {DEMO_DIR}/home --help`.")
    _serve()


def _serve() -> None:
    """The dashboard until Ctrl-C where someone is there to use it; otherwise only how to start it."""
    logins = "\n".join(f"  {email} / {DEMO_PASSWORD}  ({role})" for email, role, _performer in DEMO_USERS)
    start = f".venv/bin/likeness --home {DEMO_DIR}/home serve --port 8000"
    if not sys.stdin.isatty():
        print(f"\nTo see the dashboard, run `{start}` and open http://127.0.0.1:8000 with:\n{logins}")
        return
    print(f"\nServing the dashboard (Ctrl-C to stop); open the address below and sign in with:\n{logins}",
          flush=True)
    command = [str(Path(sys.executable).parent / "likeness"), "--home", str(DEMO_DIR / "home"), "serve",
               "--port", "8000"]
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: the server stops, and so does the demo
        subprocess.run(command)


if __name__ == "__main__":
    main()
