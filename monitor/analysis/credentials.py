"""Content Credentials (C2PA): what a file's signed manifest declares about how it was made, read offline.

Generators such as Adobe Firefly and OpenAI's image models sign a manifest into what they make (JPEG,
PNG, WebP, HEIF, TIFF, MP4/MOV, MP3, WAV, FLAC, …) that says "created by a trained model". It is read
and checked with c2pa-python, the C2PA's own SDK: the signature, the hash of the bytes it covers (an
edit after signing reads as ``invalid``) and, against the trust anchors configured in
``[credentials] trust_anchors``, whether the signer is one this installation trusts. Nothing is
fetched: remote manifests and certificate-revocation (OCSP) lookups are off, so a hostile file makes no
request. A missing manifest proves nothing (any re-encode strips one); a present one is a declaration
signed by whoever holds the key, which only ``trusted`` ties to a known signer.
"""

from __future__ import annotations

import functools
import hashlib
from importlib.metadata import version
from pathlib import Path

from enrollment.errors import LikenessError, error_line, shown
from monitor.config import CredentialsSettings

# IPTC digital source types (https://cv.iptc.org/newscodes/digitalsourcetype/) that mean a trained model
# made the content or part of it; "algorithmicMedia" (no training data: procedural art) is not among them
AI_SOURCE_TYPES = frozenset({"trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia"})
STATES = {"Trusted": "trusted", "Valid": "valid", "Invalid": "invalid"}
MAX_ACTIONS = 20  # a manifest is the signer's text: what is kept of it is bounded
MAX_FAILURES = 10
MAX_TEXT_CHARS = 120


class TrustAnchorsError(LikenessError):
    """The configured trust anchors cannot be used."""


def read_credentials(path: Path, settings: CredentialsSettings) -> dict | None:
    """The file's Content Credentials, or None when it has none (or its format cannot carry any).

    Returns ``{"validation_state": "trusted" | "valid" | "invalid", "signer": str | None,
    "claim_generator": str | None, "ai_generated": bool, "actions": [{"action", "digital_source_type",
    "software_agent"}, …] (≤ 20), "failures": [validation codes, …] (≤ 10)}``; every string printable and at
    most 120 characters. A manifest too broken to read is ``invalid`` with the reason as its failure.
    Never raises for the file's sake (only for unusable trust anchors).
    """
    import c2pa

    context = _context(trust_anchors_pem(settings))
    try:
        reader = c2pa.Reader.try_create(str(path), context=context)
    except (c2pa.C2paError.NotSupported, c2pa.C2paError.ManifestNotFound, c2pa.C2paError.Io,
            c2pa.C2paError.FileNotFound, c2pa.C2paError.Other):
        return None  # not a format that carries credentials, or bytes that are not one at all
    except c2pa.C2paError as error:  # a manifest is there, but it cannot be decoded or verified
        return _broken(error_line(error))
    if reader is None:
        return None
    with reader:
        manifest = reader.get_active_manifest()
        state = reader.get_validation_state()
        results = reader.get_validation_results()
    if not isinstance(manifest, dict):
        return _broken("no active manifest")
    return summarise_manifest(manifest, STATES.get(state or "", "invalid"), _failure_codes(results))


def credentials_version(settings: CredentialsSettings) -> str:
    """``c2pa-python <version> anchors:<sha256 prefix>`` (``anchors:none`` without trust anchors): what a
    reading depends on, for the analysis key."""
    pem = trust_anchors_pem(settings)
    anchors = hashlib.sha256(pem.encode()).hexdigest()[:12] if pem else "none"
    return f"c2pa-python {version('c2pa-python')} anchors:{anchors}"


def trust_anchors_pem(settings: CredentialsSettings) -> str:
    """The PEM certificates of ``settings.trust_anchors`` ("" when none is configured).

    Raises TrustAnchorsError (one line, naming the file) when it cannot be read or holds no certificate
    that c2pa accepts.
    """
    if not settings.trust_anchors:
        return ""
    path = Path(settings.trust_anchors).expanduser()
    try:
        pem = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as error:
        raise TrustAnchorsError(f"credentials.trust_anchors {shown(str(path), 200)}: cannot be read "
                                f"({error_line(error)})") from None
    if "-----BEGIN CERTIFICATE-----" not in pem:
        raise TrustAnchorsError(f"credentials.trust_anchors {shown(str(path), 200)}: no PEM certificate in it")
    _context(pem)
    return pem


@functools.lru_cache(maxsize=4)
def _context(anchors_pem: str):  # -> c2pa.Context
    import c2pa

    verify = {"remote_manifest_fetch": False, "ocsp_fetch": False}
    try:
        return c2pa.Context.from_dict({"verify": verify, "trust": {"user_anchors": anchors_pem}} if anchors_pem
                                      else {"verify": verify})
    except c2pa.C2paError as error:
        raise TrustAnchorsError(f"credentials.trust_anchors: not usable ({error_line(error)})") from None


def summarise_manifest(manifest: dict, state: str, failures: list[str]) -> dict:
    """What :func:`read_credentials` returns, from c2pa's active manifest (a dict of the signer's making: any
    part may be missing or of the wrong type), its validation state and failed check codes."""
    actions = [_action(action) for action in _actions(manifest)][:MAX_ACTIONS]
    return {
        "validation_state": state,
        "signer": _signer(manifest.get("signature_info")),
        "claim_generator": _claim_generator(manifest),
        "ai_generated": any(action["digital_source_type"] in AI_SOURCE_TYPES for action in actions),
        "actions": actions,
        "failures": failures,
    }


def _broken(reason: str) -> dict:
    return {"validation_state": "invalid", "signer": None, "claim_generator": None, "ai_generated": False,
            "actions": [], "failures": [_text(reason)]}


def _actions(manifest: dict) -> list[dict]:
    """The actions of every ``c2pa.actions`` assertion (v1 and v2) of the manifest, in order."""
    found = []
    for assertion in _list(manifest.get("assertions")):
        label = str(assertion.get("label", "")) if isinstance(assertion, dict) else ""
        if label == "c2pa.actions" or label.startswith("c2pa.actions."):
            data = assertion.get("data")
            found += [a for a in _list(data.get("actions") if isinstance(data, dict) else None) if isinstance(a, dict)]
    return found


def _action(action: dict) -> dict:
    source_type = action.get("digitalSourceType")
    agent = action.get("softwareAgent")
    if isinstance(agent, dict):  # claim v2: {"name", "version"}
        agent = " ".join(str(agent[key]) for key in ("name", "version") if agent.get(key))
    return {
        "action": _text(action.get("action")),
        # the IPTC term's last segment: ".../digitalsourcetype/trainedAlgorithmicMedia" → trainedAlgorithmicMedia
        "digital_source_type": _text(str(source_type).rstrip("/").rsplit("/", 1)[-1]) if source_type else None,
        "software_agent": _text(agent),
    }


def _signer(signature: object) -> str | None:
    """"Common Name (Organisation)" of the signing certificate, as the manifest's signature names it."""
    if not isinstance(signature, dict):
        return None
    name, organisation = _text(signature.get("common_name")), _text(signature.get("issuer"))
    if name and organisation and organisation != name:
        return _text(f"{name} ({organisation})")
    return name or organisation


def _claim_generator(manifest: dict) -> str | None:
    generators = _list(manifest.get("claim_generator_info"))
    if generators and isinstance(generators[0], dict):
        first = generators[0]
        return _text(" ".join(str(first[key]) for key in ("name", "version") if first.get(key)))
    return _text(manifest.get("claim_generator"))


def _failure_codes(results: object) -> list[str]:
    """The codes of the active manifest's failed checks (``assertion.dataHash.mismatch``, …)."""
    active = results.get("activeManifest") if isinstance(results, dict) else None
    failures = _list(active.get("failure") if isinstance(active, dict) else None)
    codes = [_text(failure.get("code")) for failure in failures if isinstance(failure, dict)]
    return [code for code in codes if code][:MAX_FAILURES]


def _list(value: object) -> list:
    return value if isinstance(value, list) else []


def _text(value: object) -> str | None:
    return shown(str(value), MAX_TEXT_CHARS) if value not in (None, "") else None
