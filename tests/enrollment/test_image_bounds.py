"""Still images cost what the face detector uses, not what the file claims: decoded scaled to
``media.max_image_side_px``, in bounded time and memory, rotation kept."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from enrollment.media import load_image
from monitor.config import load_config

MAX_RSS_MIB = 512  # a 50 Mpx RGB PNG measured 319 MiB here (2.4 GB to scan it whole, unscaled, before)
# VmHWM, not ru_maxrss: a child's ru_maxrss starts at its parent's (this test process, models loaded) at fork
MEASURE = """
import sys
from pathlib import Path
from enrollment.media import load_image
from monitor.config import load_config
rgb = load_image(Path(sys.argv[1]), load_config(sys.argv[2]).media)
peak_kib = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(rgb.shape[0], rgb.shape[1], peak_kib // 1024)
"""


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_a_50_megapixel_image_is_decoded_at_the_analysed_size_in_bounded_memory(tmp_path: Path, suffix: str):
    path = tmp_path / f"huge{suffix}"
    Image.new("RGB", (7071, 7071), (90, 120, 150)).save(path)  # a few KB that claim 50 Mpx
    done = subprocess.run([sys.executable, "-c", MEASURE, str(path), str(tmp_path / "home")], capture_output=True,
                          text=True, timeout=600, check=True)
    height_px, width_px, max_rss_mib = map(int, done.stdout.split())
    assert (height_px, width_px) == (2560, 2560)
    assert max_rss_mib < MAX_RSS_MIB


def test_a_large_photo_keeps_its_exif_rotation_and_proportions(tmp_path: Path):
    photo = Image.new("RGB", (3000, 2000), (200, 10, 10))
    exif = photo.getexif()
    exif[0x0112] = 6  # rotated 90° clockwise
    photo.save(tmp_path / "rotated.jpg", exif=exif)
    assert load_image(tmp_path / "rotated.jpg", load_config(tmp_path).media).shape == (2560, 1707, 3)


def test_a_photo_within_the_limit_is_decoded_as_it_is(tmp_path: Path, grace_hopper_path: Path):
    assert load_image(grace_hopper_path, load_config(tmp_path).media).shape == (600, 512, 3)
