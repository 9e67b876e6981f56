"""The installation's Ed25519 signing key for evidence bundles: create once, load, describe.

The private key lives at ``<keys_dir>/evidence-ed25519.pem`` (PEM, PKCS#8, unencrypted, mode 0600, in a
0700 folder). Its *fingerprint* is ``"SHA256:"`` + the lowercase hex SHA-256 of the raw 32-byte public key;
with OpenSSL: ``openssl pkey -pubin -in public-key.pem -outform DER | tail -c 32 | sha256sum`` (the DER
form of an Ed25519 public key ends with the 32 raw bytes).

``cryptography`` is imported inside the functions: ``likeness --help`` must not pay for it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from enrollment.errors import LikenessError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

KEY_FILE = "evidence-ed25519.pem"


def ensure_key(keys_dir: Path) -> Path:
    """The path of the signing key in ``keys_dir``, creating the key (and the folder, mode 0700) if missing.

    An existing key is never replaced. Creation is atomic: the key is written to a temporary file opened
    with ``O_EXCL`` and mode 0600, then linked into place, so a crash or a concurrent ``init`` never
    leaves a half-written key or swaps one key for another.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    keys_dir = Path(keys_dir)
    path = keys_dir / KEY_FILE
    try:
        keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(keys_dir, 0o700)
        if path.exists():
            return path
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        temp = keys_dir / f".{KEY_FILE}.{os.getpid()}.tmp"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                os.fchmod(handle.fileno(), 0o600)  # the umask can only narrow 0600, but be exact
                handle.write(pem)
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(temp, path)  # unlike rename, fails if another process created the key meanwhile
            except FileExistsError:
                pass  # theirs wins; ours was never used
            except OSError:
                os.replace(temp, path)  # a filesystem without hard links
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
    except OSError as error:
        why = error.strerror or error
        raise LikenessError(f"cannot create the evidence signing key in {keys_dir}: {why}") from None
    return path


def load_key(keys_dir: Path) -> Ed25519PrivateKey:
    """The installation's Ed25519 private key; a one-line ``LikenessError`` if missing, unreadable or not Ed25519.

    ``keys_dir`` is the folder given to :func:`ensure_key`; the key file itself (what ``ensure_key`` returns)
    is accepted too.
    """
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = Path(keys_dir) if Path(keys_dir).is_file() else Path(keys_dir) / KEY_FILE
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise LikenessError(f"no evidence signing key at {path}: run `likeness init` to create one") from None
    except OSError as error:
        raise LikenessError(
            f"cannot read the evidence signing key {path}: {error.strerror or error} (check its owner and mode)"
        ) from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise LikenessError(
            f"{path} is not an unencrypted PEM private key: move it aside and run `likeness init` to create one"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise LikenessError(f"{path} is not an Ed25519 key: move it aside and run `likeness init` to create one")
    return key


def public_key_pem(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    """The public key (of a private or public key) as PEM SubjectPublicKeyInfo, as OpenSSL writes it."""
    from cryptography.hazmat.primitives import serialization

    public = key.public_key() if hasattr(key, "public_key") else key
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def fingerprint(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """``"SHA256:"`` + lowercase hex SHA-256 (64 digits) of the raw 32-byte public key (of a private or public key)."""
    from cryptography.hazmat.primitives import serialization

    public = key.public_key() if hasattr(key, "public_key") else key
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "SHA256:" + hashlib.sha256(raw).hexdigest()
