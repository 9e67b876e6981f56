"""Hostile inputs made at test time: names no terminal should interpret, files that make libraries complain,
URLs that do not parse, a server that answers garbage, and a way to run the real CLI in a process of its own
(what reaches a user's terminal can only be seen from outside: pytest catches warnings in its own process)."""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

LIKENESS = str(Path(sys.executable).parent / "likeness")
SAFETY_NET_S = 900  # a whole hostile batch on a loaded 2-core machine takes well under this
UNPARSABLE_URLS = (
    "http://[::1/x.mp3",  # an IPv6 bracket never closed
    "http://[127.0.0.1]:80/x.mp3",  # IPv4 in brackets
    "http://exa mple.com/x.mp3",  # a space in the host
    "http://127.0.0.1:99999/x.mp3",  # a port out of range
    "http://127.0.0.1:port/x.mp3",  # a port that is no number
    "https://%zz/x.mp3",  # a host that is a bad escape
    "http://\u202eevil.com/x.mp3",  # a bidi override in the host
)


@dataclass
class Run:
    code: int
    stdout: str
    stderr_lines: list[str]


def run_likeness(*args: str | bytes | Path, env: dict | None = None) -> Run:
    """The real ``likeness`` in a child process; its output must be UTF-8 (decoded strictly)."""
    done = subprocess.run([LIKENESS, *(os.fsencode(arg) if isinstance(arg, Path) else arg for arg in args)],
                          env=env or os.environ.copy(), capture_output=True, timeout=SAFETY_NET_S)
    return Run(done.returncode, done.stdout.decode("utf-8"), done.stderr.decode("utf-8").splitlines())


def is_one_short_line(text: str, limit: int = 300) -> bool:
    return len(text) <= limit and text.isprintable()


def not_utf8_name(folder: Path, data: bytes) -> bytes:
    """A file named ``b-\\xe9t\\xe9.wav`` (Latin-1, not UTF-8) holding ``data``; returns its path as bytes."""
    path = os.fsencode(folder) + b"/b-\xe9t\xe9.wav"
    with open(path, "wb") as out:
        out.write(data)
    return path


def symlink_loop(folder: Path) -> Path:
    first, second = folder / "loop-a.mp3", folder / "loop-b.mp3"
    first.symlink_to(second.name)
    second.symlink_to(first.name)
    return first


def jpeg_with_hostile_exif(photo: Path, dest: Path) -> Path:
    """``photo`` with an EXIF block whose tags claim more data than the file holds (Pillow warns, three times)."""
    tiff = struct.pack("<2sHI", b"II", 42, 8) + struct.pack("<H", 2)
    tiff += struct.pack("<HHII", 0x010E, 2, 1_000_000, 38)  # ImageDescription: a million characters, nowhere
    tiff += struct.pack("<HHII", 0x8769, 4, 1, 0xFFFFFFF0) + struct.pack("<I", 0)  # an Exif IFD past the end
    exif = b"Exif\x00\x00" + tiff
    data = photo.read_bytes()
    dest.write_bytes(data[:2] + b"\xff\xe1" + struct.pack(">H", len(exif) + 2) + exif + data[2:])
    return dest


@contextmanager
def garbage_server(answer: bytes = bytes(range(256)) * 30) -> Iterator[str]:
    """A TCP server on 127.0.0.1 that answers any request with ``answer`` (7,680 bytes of no HTTP at all);
    yields its base URL."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stopping = threading.Event()

    def serve() -> None:
        while not stopping.is_set():
            try:
                client, _address = listener.accept()
            except OSError:
                return
            with client:
                try:
                    client.recv(65536)
                    client.sendall(answer)
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stopping.set()
        listener.close()
