"""The installation's evidence signing key (monitor.evidence.keys): created once, private, loaded with clear errors."""

from __future__ import annotations

import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from enrollment.errors import LikenessError
from monitor.evidence.keys import KEY_FILE, ensure_key, fingerprint, load_key, public_key_pem
from tests.support.paths import ROOT


def test_the_key_is_private_kept_and_loaded(tmp_path: Path) -> None:
    keys = tmp_path / "home" / "keys"
    path = ensure_key(keys)
    assert path == keys / KEY_FILE and path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(keys.stat().st_mode) == 0o700
    before = path.read_bytes()
    assert ensure_key(keys) == path and path.read_bytes() == before
    assert [p.name for p in keys.iterdir()] == [KEY_FILE]  # no temporary file left behind
    key = load_key(keys)
    assert re.fullmatch(r"SHA256:[0-9a-f]{64}", fingerprint(key))
    assert fingerprint(key) == fingerprint(key.public_key())
    assert public_key_pem(key).startswith(b"-----BEGIN PUBLIC KEY-----")


def test_a_missing_or_wrong_key_is_one_line_pointing_at_init(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    with pytest.raises(LikenessError, match=r"^no evidence signing key at .*: run `likeness init` to create one$"):
        load_key(tmp_path / "keys")
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / KEY_FILE).write_bytes(b"garbage")
    with pytest.raises(LikenessError, match=r"is not an unencrypted PEM private key: .*likeness init"):
        load_key(tmp_path / "keys")
    ec_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    (tmp_path / "keys" / KEY_FILE).write_bytes(ec_pem)
    with pytest.raises(LikenessError, match=r"is not an Ed25519 key: .*likeness init"):
        load_key(tmp_path / "keys")


def test_the_evidence_modules_do_not_import_cryptography_until_used() -> None:
    code = ("import sys; import monitor.evidence.bundle, monitor.evidence.verify, monitor.evidence.keys, "
            "monitor.storage.chain; print('cryptography' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.stdout.strip() == "False", result.stderr
