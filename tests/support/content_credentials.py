"""Content Credentials for the tests: a local signing PKI and files signed with it by c2pa-python.

:class:`CredentialsPki` makes a root CA (``root_pem``: what ``[credentials] trust_anchors`` names) and a
signer under it whose certificate is what C2PA asks of a signer (digitalSignature, extended key usage
emailProtection, a key identifier of its issuer), with P-256 keys. :func:`sign` writes a copy of a media
file with a manifest that declares its digital source type, as a generator would.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from tests.support.tsa import make_certificate, pem

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
AI_MADE = IPTC + "trainedAlgorithmicMedia"
CAMERA_MADE = IPTC + "digitalCapture"
MIME_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".wav": "audio/wav",
              ".mp3": "audio/mpeg", ".mp4": "video/mp4"}


class CredentialsPki:
    """A root CA and one C2PA signer under it, written to ``directory`` (``root.pem``)."""

    def __init__(self, directory: Path, signer: str = "Test Generator") -> None:
        root_key, signer_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
        root = make_certificate(f"{signer} Root CA", root_key, None, root_key, ca=True)
        leaf = make_certificate(signer, signer_key, root, root_key, ca=False, eku_critical=False,
                                usage=ExtendedKeyUsageOID.EMAIL_PROTECTION)
        self.chain = pem(leaf) + pem(root)
        self.key = signer_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption())
        self.root_pem = directory / "root.pem"
        self.root_pem.write_bytes(pem(root))


def sign(pki: CredentialsPki, source: Path, target: Path, source_type: str = AI_MADE,
         generator: str = "Test Generator", software_agent: str | None = None) -> Path:
    """``source`` copied to ``target`` with a C2PA manifest signed by ``pki``'s signer: one ``c2pa.created``
    action of ``source_type``, made by ``generator`` (its claim generator)."""
    import c2pa

    action = {"action": "c2pa.created", "digitalSourceType": source_type}
    if software_agent is not None:
        action["softwareAgent"] = software_agent
    manifest = {"claim_generator_info": [{"name": generator, "version": "1.0"}], "title": target.name,
                "assertions": [{"label": "c2pa.actions", "data": {"actions": [action]}}]}
    signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, pki.chain, pki.key, None))
    with c2pa.Builder(manifest) as builder, open(source, "rb") as src, open(target, "w+b") as dst:
        builder.sign(signer, MIME_TYPES[source.suffix.lower()], src, dst)
    return target


def flip_last_byte_of_image_data(path: Path) -> Path:
    """The file with one byte near its end changed (inside the pixels of a JPEG, before its end marker)."""
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF
    path.write_bytes(bytes(data))
    return path
