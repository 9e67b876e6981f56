"""An RFC 3161 timestamp token's CMS: just enough DER to read it and check its signature (RFC 5652 §5, 3161).

A token is a ContentInfo holding a SignedData whose encapsulated content is the DER ``TSTInfo``. rfc3161-client
(1.0.x) rejects a certificate set that is not in DER order, which OpenSSL-based authorities send, and checks a
token's signature only together with a chain to trusted roots. So this module reads the SignedData itself:
:func:`split_response` opens a TimeStampResp, :func:`parse` gives a token's parts, :func:`der_sorted` the same
token with its certificate set in DER order (the set is outside the signature: the token stays valid),
:func:`signature_problem` checks the one signer's signature with ``cryptography``, :func:`timestamping_problem`
the signer's certificate, :func:`chain_problem` its chain to trusted roots (through rfc3161-client), and
:func:`chain_pem` lists the certificates a token carries.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

T = TypeVar("T")

SIGNED_DATA = "1.2.840.113549.1.7.2"
TST_INFO = "1.2.840.113549.1.9.16.1.4"
CONTENT_TYPE, MESSAGE_DIGEST = "1.2.840.113549.1.9.3", "1.2.840.113549.1.9.4"
SIGNING_CERTIFICATE, SIGNING_CERTIFICATE_V2 = "1.2.840.113549.1.9.16.2.12", "1.2.840.113549.1.9.16.2.47"
DIGESTS = {"1.3.14.3.2.26": "sha1", "2.16.840.1.101.3.4.2.1": "sha256", "2.16.840.1.101.3.4.2.2": "sha384",
           "2.16.840.1.101.3.4.2.3": "sha512"}
# Signature algorithm OID → the digest it names (None: the SignerInfo's digestAlgorithm decides).
RSA = {"1.2.840.113549.1.1.1": None, "1.2.840.113549.1.1.11": "sha256", "1.2.840.113549.1.1.12": "sha384",
       "1.2.840.113549.1.1.13": "sha512", "1.2.840.113549.1.1.5": "sha1"}
ECDSA = {"1.2.840.10045.4.3.2": "sha256", "1.2.840.10045.4.3.3": "sha384", "1.2.840.10045.4.3.4": "sha512",
         "1.2.840.10045.2.1": None, "1.2.840.10045.4.1": "sha1"}
ED25519 = "1.3.101.112"


class DerError(ValueError):
    """Bytes that are not the DER this module expects."""


def _der_errors(function: Callable[..., T]) -> Callable[..., T]:
    """Makes a reader raise DerError alone: a missing element (IndexError, unpacking) is bad DER too."""

    @functools.wraps(function)
    def reader(*args: Any) -> T:
        try:
            return function(*args)
        except DerError:
            raise
        except (IndexError, ValueError) as error:
            raise DerError(f"malformed ({type(error).__name__})") from None

    return reader


def tlv(data: bytes, pos: int = 0) -> tuple[int, int, int]:
    """The element at ``pos``: (tag byte, start of its contents, end of its contents). Definite lengths only."""
    if pos + 2 > len(data):
        raise DerError("truncated")
    tag, length, start = data[pos], data[pos + 1], pos + 2
    if tag & 0x1F == 0x1F:
        raise DerError("multi-byte tags are not used here")
    if length & 0x80:
        count = length & 0x7F
        if not 1 <= count <= 4 or start + count > len(data):
            raise DerError("bad length")
        length, start = int.from_bytes(data[start:start + count], "big"), start + count
    if start + length > len(data):
        raise DerError("truncated")
    return tag, start, start + length


def children(data: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """The elements between ``start`` and ``end``: (tag, element start, contents start, end) each."""
    out, pos = [], start
    while pos < end:
        tag, content, stop = tlv(data, pos)
        out.append((tag, pos, content, stop))
        pos = stop
    if pos != end:
        raise DerError("an element overruns its container")
    return out


def oid(encoded: bytes) -> str:
    """Dotted form of an OBJECT IDENTIFIER's contents."""
    arcs, value = [], 0
    for byte in encoded:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    if not arcs:
        raise DerError("empty OID")
    first = min(arcs[0] // 40, 2)
    return ".".join(map(str, [first, arcs[0] - 40 * first, *arcs[1:]]))


def header(tag: int, length: int) -> bytes:
    """The DER tag and length octets of an element."""
    if length < 0x80:
        return bytes([tag, length])
    size = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size


@_der_errors
def split_response(reply: bytes) -> tuple[int, str, bytes | None]:
    """A DER TimeStampResp's status, its status text (printable ASCII, ≤ 80 characters) and its token if any.
    Raises DerError."""
    tag, start, end = tlv(reply)
    if tag != 0x30 or end != len(reply):
        raise DerError("not one DER SEQUENCE")
    parts = children(reply, start, end)
    status_info = children(reply, parts[0][2], parts[0][3])
    if parts[0][0] != 0x30 or status_info[0][0] != 0x02:
        raise DerError("no PKIStatusInfo")
    status = int.from_bytes(reply[status_info[0][2]:status_info[0][3]], "big", signed=True)
    text = ""
    if len(status_info) > 1 and status_info[1][0] == 0x30:  # PKIFreeText: UTF8Strings
        strings = children(reply, status_info[1][2], status_info[1][3])
        text = " ".join(reply[s[2]:s[3]].decode("utf-8", "replace") for s in strings)
        text = re.sub(r"[^ -~]+", " ", text).strip()[:80]
    return status, text, reply[parts[1][1]:parts[1][3]] if len(parts) > 1 else None


@dataclass(frozen=True)
class SignedToken:
    """The parts of a token :func:`signature_problem` needs; byte strings are DER."""

    tst_info: bytes  # the encapsulated content's octets: a DER TSTInfo
    certificates: list[bytes]  # each a DER Certificate, in the token's order
    issuer: bytes  # the signer's IssuerAndSerialNumber: issuer Name (whole element) ...
    serial: int  # ... and serial number
    digest_oid: str
    signed_attrs: bytes  # the [0] IMPLICIT element; signed as a SET OF (tag 0x31)
    signature_oid: str
    signature: bytes
    certs_span: tuple[int, int] | None  # where the [0] certificates element lies in the token


@_der_errors
def parse(token: bytes) -> SignedToken:
    """Reads a ContentInfo/SignedData timestamp token (exactly one element, one signer). Raises DerError."""
    tag, start, end = tlv(token)
    if tag != 0x30 or end != len(token):
        raise DerError("not one DER SEQUENCE")
    content_type, wrapped = children(token, start, end)[:2]
    if oid(token[content_type[2]:content_type[3]]) != SIGNED_DATA or wrapped[0] != 0xA0:
        raise DerError("not CMS SignedData")
    signed = children(token, wrapped[2], wrapped[3])[0]
    parts = children(token, signed[2], signed[3])
    encapsulated = children(token, parts[2][2], parts[2][3])
    if oid(token[encapsulated[0][2]:encapsulated[0][3]]) != TST_INFO:
        raise DerError("the content is not a TSTInfo")
    octets = children(token, encapsulated[1][2], encapsulated[1][3])[0]
    certs_span, certificates = None, []
    for part in parts[3:-1]:
        if part[0] == 0xA0:
            certs_span = (part[1], part[3])
            certificates = [token[c[1]:c[3]] for c in children(token, part[2], part[3]) if c[0] == 0x30]
    signer_infos = children(token, parts[-1][2], parts[-1][3])
    if len(signer_infos) != 1:
        raise DerError(f"{len(signer_infos)} signers, not one")
    fields = children(token, signer_infos[0][2], signer_infos[0][3])
    sid = children(token, fields[1][2], fields[1][3])
    if fields[1][0] != 0x30 or fields[3][0] != 0xA0:
        raise DerError("the signer is not named by issuer and serial, or has no signed attributes")
    return SignedToken(
        tst_info=token[octets[2]:octets[3]], certificates=certificates,
        issuer=token[sid[0][1]:sid[0][3]], serial=int.from_bytes(token[sid[1][2]:sid[1][3]], "big", signed=True),
        digest_oid=_first_oid(token, fields[2]),
        signed_attrs=token[fields[3][1]:fields[3][3]], signature_oid=_first_oid(token, fields[4]),
        signature=token[fields[5][2]:fields[5][3]], certs_span=certs_span)


def _first_oid(token: bytes, algorithm: tuple[int, int, int, int]) -> str:
    """The OID of an AlgorithmIdentifier element."""
    first = children(token, algorithm[2], algorithm[3])[0]
    if first[0] != 0x06:
        raise DerError("not an AlgorithmIdentifier")
    return oid(token[first[2]:first[3]])


@_der_errors
def der_sorted(token: bytes) -> bytes:
    """``token`` with its certificate set in DER order (X.690 §11.6); other bytes unchanged. Raises DerError."""
    span = parse(token).certs_span
    if span is None:
        return token
    _tag, start, end = tlv(token, span[0])
    elements = [token[c[1]:c[3]] for c in children(token, start, end)]
    width = max(map(len, elements), default=0)
    elements.sort(key=lambda element: element.ljust(width, b"\0"))
    # Same elements, same total length: the [0] header and every enclosing length stay as they are.
    return token[:start] + b"".join(elements) + token[end:]


def signer_certificate(token: SignedToken) -> bytes | None:
    """The DER certificate among the token's that its SignerInfo names (issuer and serial), if it carries it."""
    from cryptography import x509

    for der in token.certificates:
        try:
            certificate = x509.load_der_x509_certificate(der)
            if certificate.serial_number == token.serial and certificate.issuer.public_bytes() == token.issuer:
                return der
        except Exception:  # ValueError, InvalidVersion …: not a certificate anyone can use
            continue
    return None


def _contents(element: bytes) -> bytes:
    """The contents octets of one DER element."""
    _tag, start, end = tlv(element)
    return element[start:end]


def _attributes(token: SignedToken) -> dict[str, bytes]:
    """Signed attributes: OID → the DER of its first value."""
    attrs, data = {}, token.signed_attrs
    _tag, start, end = tlv(data)
    for _t, _at, content, stop in children(data, start, end):
        kind, values = children(data, content, stop)[:2]
        first = children(data, values[2], values[3])[0]
        attrs[oid(data[kind[2]:kind[3]])] = data[first[1]:first[3]]
    return attrs


def _ess_hash(attrs: dict[str, bytes]) -> tuple[str, bytes] | None:
    """(digest name, certificate hash) of the first ESSCertID(v2) in the signing-certificate attribute."""
    for kind, default in ((SIGNING_CERTIFICATE_V2, "sha256"), (SIGNING_CERTIFICATE, "sha1")):
        if kind not in attrs:
            continue
        value = attrs[kind]
        ids = children(value, *tlv(value)[1:])[0]
        first = children(value, ids[2], ids[3])[0]
        fields = children(value, first[2], first[3])
        if fields[0][0] == 0x30:  # ESSCertIDv2 with a hashAlgorithm (absent: SHA-256)
            algorithm = children(value, fields[0][2], fields[0][3])[0]
            default, fields = DIGESTS.get(oid(value[algorithm[2]:algorithm[3]]), "?"), fields[1:]
        return default, value[fields[0][2]:fields[0][3]]
    return None


def signature_problem(token: SignedToken, certificate_der: bytes) -> str | None:
    """None when ``certificate_der``'s key signed the token's attributes and they bind its TSTInfo and that
    certificate (contentType, messageDigest, ESS signing certificate); else a short reason. Never raises."""
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

    try:
        attrs = _attributes(token)
        digest = DIGESTS.get(token.digest_oid)
        if digest is None:
            return f"unsupported digest {token.digest_oid}"
        if CONTENT_TYPE not in attrs or oid(_contents(attrs[CONTENT_TYPE])) != TST_INFO:
            return "the signed content type is not TSTInfo"
        if _contents(attrs.get(MESSAGE_DIGEST, b"\x04\x00")) != hashlib.new(digest, token.tst_info).digest():
            return "the TSTInfo is not the one signed"
        ess = _ess_hash(attrs)
        if ess is None or ess[0] not in DIGESTS.values() or hashlib.new(ess[0], certificate_der).digest() != ess[1]:
            return "the signed attributes do not name the signer's certificate"
        key = x509.load_der_x509_certificate(certificate_der).public_key()
        signed = b"\x31" + token.signed_attrs[1:]  # signed as SET OF, sent as [0] IMPLICIT (RFC 5652 §5.4)
        algorithm = {"sha1": hashes.SHA1, "sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}
        if isinstance(key, rsa.RSAPublicKey) and token.signature_oid in RSA:
            chosen = algorithm[RSA[token.signature_oid] or digest]()
            key.verify(token.signature, signed, padding.PKCS1v15(), chosen)
        elif isinstance(key, ec.EllipticCurvePublicKey) and token.signature_oid in ECDSA:
            key.verify(token.signature, signed, ec.ECDSA(algorithm[ECDSA[token.signature_oid] or digest]()))
        elif isinstance(key, ed25519.Ed25519PublicKey) and token.signature_oid == ED25519:
            key.verify(token.signature, signed)
        else:
            return f"unsupported signature algorithm {token.signature_oid} for a {type(key).__name__}"
    except InvalidSignature:
        return "signature does not verify"
    except (ValueError, IndexError, TypeError, KeyError):
        return "malformed signer information"
    return None


def chain_pem(token: SignedToken) -> bytes:
    """The token's certificates as PEM: the signer's, then its issuer's while the token has it, then the rest."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    certificates = []
    for der in token.certificates:
        try:
            certificates.append(x509.load_der_x509_certificate(der))
        except Exception:  # outside the signature, and no use to anyone: left out
            continue
    signer = signer_certificate(token)
    ordered = [c for c in certificates if signer and c.public_bytes(Encoding.DER) == signer][:1]
    while ordered and ordered[-1].issuer != ordered[-1].subject:
        issuer = next((c for c in certificates if c.subject == ordered[-1].issuer and c not in ordered), None)
        if issuer is None:
            break
        ordered.append(issuer)
    ordered += [c for c in certificates if c not in ordered]
    return b"".join(c.public_bytes(Encoding.PEM) for c in ordered)


def timestamping_problem(signer_der: bytes, gen_time: datetime) -> str | None:
    """Whether the signer's certificate may sign timestamps (RFC 3161 §2.3) and was valid at ``gen_time``."""
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID

    certificate = x509.load_der_x509_certificate(signer_der)
    try:
        usage = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except (x509.ExtensionNotFound, ValueError):
        usage = None
    if usage is None or not usage.critical or ExtendedKeyUsageOID.TIME_STAMPING not in usage.value:
        return "the signer's certificate is not for timestamping (no critical timeStamping extended key usage)"
    if not certificate.not_valid_before_utc <= gen_time <= certificate.not_valid_after_utc:
        return "the signer's certificate was not valid at the timestamp's time"
    return None


def chain_problem(response: Any, data: bytes, roots_pem: bytes) -> str | None:
    """Whether rfc3161-client finds the signer's chain up to one of the PEM ``roots_pem`` and the signature good."""
    from cryptography import x509
    from rfc3161_client import VerificationError, VerifierBuilder

    try:
        given = x509.load_pem_x509_certificates(bytes(roots_pem))
    except ValueError:
        return "the trusted roots given are not PEM certificates"
    roots = [c for c in given if c.subject == c.issuer]
    if not roots:
        return "the trusted roots given hold no self-signed (root) certificate"
    verifier = VerifierBuilder(roots=roots, intermediates=[c for c in given if c.subject != c.issuer]).build()
    try:
        verifier.verify_message(response, data)
    except (VerificationError, ValueError) as error:
        # OpenSSL's reason hides in a Rust ErrorStack repr: '… data: "Verify error: unable to get …"', or
        # '… reason: "digest failure" …'; other errors are one phrase followed by a Debug dump.
        text = str(error)
        reasons = re.findall(r'Verify error: ([^"]+)', text) or re.findall(r'reason: "([^"]+)"', text)
        reason = reasons[-1] if reasons else re.split(r"[:({\[]", (text.splitlines() or ["?"])[0])[0][:80]
        return f"the timestamp does not chain to a trusted root ({reason})"
    return None
