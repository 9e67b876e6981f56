"""RFC 3161 timestamps over a bundle's manifest: asked of the configured authorities, checked offline.

A token here is the DER ``TimeStampToken`` (RFC 3161 §2.4.2: a CMS ContentInfo whose SignedData carries the
``TSTInfo``), the form ``openssl ts -verify -token_in`` reads and a bundle stores as ``manifest.json.tsr``; not
the ``TimeStampResp`` that wraps it on the wire. Requests, and reading a token's ``TSTInfo``, go through
rfc3161-client; the token's CMS signature is checked by :mod:`monitor.evidence.cms` (see there why).
TSA URLs are the operator's setting (``[evidence] timestamp_urls``): no allowed-hosts rule applies.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from enrollment.errors import LikenessError
from monitor.evidence import cms

if TYPE_CHECKING:
    from monitor.config import EvidenceSettings

TOKEN_NAME = "manifest.json.tsr"
MAX_REPLY = 1 << 20  # bytes; a timestamp reply with its certificates is a few KiB
USER_AGENT = "LikenessMonitor/0.1 (evidence timestamps; +https://github.com/likeness-monitor)"
# requests' messages name the URL and a chain of urllib3 wrappers; these phrases are what an operator needs.
CONNECT_HINTS = [("CERTIFICATE_VERIFY_FAILED", "TLS certificate not trusted"), ("SSL", "TLS failed"),
                 ("Connection refused", "connection refused"), ("resolution", "cannot resolve the host name"),
                 ("not known", "cannot resolve the host name"), ("unreachable", "network unreachable")]
IMPRINT_DIGESTS = {oid: name for oid, name in cms.DIGESTS.items() if name != "sha1"}  # SHA-1 is broken


@dataclass(frozen=True)
class TimestampResult:
    """A granted timestamp. ``url``: the authority, user name, password and query values hidden (it goes into
    bundles); ``token_der``: the DER TimeStampToken; ``gen_time``: its genTime, timezone-aware UTC; ``tsa_name``:
    the token's TSA name (RFC 4514 string) or else its signer's subject; ``chain_pem``: the certificates the
    token carries, PEM, the signer's first and then up its issuers (the TSA's chain, as the TSA sent it)."""

    url: str
    token_der: bytes
    gen_time: datetime
    tsa_name: str
    chain_pem: bytes


class _Unusable(Exception):
    """One authority's failure or one token's problem; the message is a short phrase."""


def request_timestamp(data: bytes, settings: EvidenceSettings) -> TimestampResult | None:
    """A timestamp over SHA-256(``data``) from the first of ``settings.timestamp_urls`` that grants a valid one.

    Each authority gets a request with a random nonce and certReq set, POSTed as
    ``application/timestamp-query`` with ``settings.timestamp_timeout_s`` as the connect and read timeout. Its
    reply must be HTTP 200, a TimeStampResp granting a token whose nonce and message imprint are ours and which
    passes :func:`verify_timestamp` (no roots). An authority that fails is noted and the next one is asked.
    Returns None when no URL is configured; raises LikenessError (one line naming each failure) when all fail.
    """
    urls = [str(url) for url in settings.timestamp_urls or []]
    if urls and not data:
        raise LikenessError("nothing to timestamp: the data is empty")  # rfc3161-client refuses it
    failures = []
    for url in urls:
        try:
            return _ask(url, data, float(settings.timestamp_timeout_s))
        except _Unusable as failure:
            failures.append(f"{shown_url(url)}: {failure}")
    if not failures:
        return None
    raise LikenessError("no timestamp authority granted a timestamp: " + "; ".join(failures))


def verify_timestamp(data: bytes, token_der: bytes, roots_pem: bytes | None = None, *,
                     name: str = TOKEN_NAME) -> str | None:
    """None when ``token_der`` (a DER TimeStampToken) is a valid timestamp over ``data``; else one line
    ``"{name}: {problem}"`` (the bare problem when ``name`` is empty). Never raises for bad input.

    Always checked: the token parses; its message imprint is SHA-256/384/512 of ``data``; it carries the
    certificate its SignerInfo names; the signed attributes bind the TSTInfo (messageDigest), its content type
    and that certificate (ESS signing-certificate hash); the signature over them verifies with that
    certificate's key (RSA PKCS#1 v1.5, ECDSA or Ed25519); the certificate has the timeStamping extended key
    usage, critical, and was within its validity period at the token's genTime.

    Without ``roots_pem`` nothing says *who* the signer is: anyone can make a certificate that passes the
    above, so the result shows only that the token is intact and self-consistent. With ``roots_pem`` (PEM
    certificates: self-signed ones are the trusted roots, others extra intermediates) the signer's certificate
    must also chain, through the token's own certificates or those intermediates, to one of those roots, each
    valid at genTime (rfc3161-client, i.e. OpenSSL's PKCS7_verify, which also checks the signature again and
    covers RSA-PSS). Not checked in either case: revocation (no CRL or OCSP; they would need the network), the
    TSA policy OID, or the nonce (only the requester knew it).
    """
    try:
        problem = _problem(data, token_der, roots_pem)
    except _Unusable as unusable:
        problem = str(unusable)
    except BaseException as error:  # a check tripped on malformed parts: a problem, not a crash
        if not _bad_input(error):
            raise
        problem = f"malformed token ({type(error).__name__})"
    return (f"{name}: {problem}" if name else problem) if problem else None


def _problem(data: bytes, token_der: bytes, roots_pem: bytes | None) -> str | None:
    """:func:`verify_timestamp`'s checks, in order; the first problem as a phrase."""
    token, response = _read(token_der)
    info = response.tst_info
    digest = IMPRINT_DIGESTS.get(info.message_imprint.hash_algorithm.dotted_string)
    if digest is None:
        return "the timestamp uses an unsupported hash algorithm"
    if hashlib.new(digest, data).digest() != info.message_imprint.message:
        return "the timestamp is over different data"
    signer = cms.signer_certificate(token)
    if signer is None:
        return "the token does not carry its signer's certificate"
    problem = cms.signature_problem(token, signer)
    if problem and not (problem.startswith("unsupported signature") and roots_pem):
        return problem  # (unsupported algorithms are left to rfc3161-client's check when roots are given)
    problem = cms.timestamping_problem(signer, _utc(info.gen_time))
    if problem is None and roots_pem is not None:
        problem = cms.chain_problem(response, data, roots_pem)
    return problem


def describe(token_der: bytes) -> dict[str, str]:
    """For a bundle's report: ``gen_time`` (ISO 8601, UTC), ``tsa`` (as :attr:`TimestampResult.tsa_name`),
    ``serial`` (the token's serial number, decimal), ``hash_algorithm`` (of the imprint: ``sha256`` …, or the
    OID) and ``policy`` (the TSA policy OID). Raises LikenessError (one line) when ``token_der`` is no token."""
    try:
        token, response = _read(token_der)
        info = response.tst_info
        oid = info.message_imprint.hash_algorithm.dotted_string
        return {"gen_time": _utc(info.gen_time).isoformat(), "tsa": _tsa_name(token, info),
                "serial": str(info.serial_number), "hash_algorithm": IMPRINT_DIGESTS.get(oid, oid),
                "policy": info.policy.dotted_string if info.policy else ""}
    except BaseException as error:
        if not _bad_input(error):
            raise
        problem = error if isinstance(error, _Unusable) else f"malformed token ({type(error).__name__})"
        raise LikenessError(f"{TOKEN_NAME}: {problem}") from None


def shown_url(url: str) -> str:
    """``url`` without its user name and password, query values replaced by ``****``: safe to log and store."""
    try:
        parts = urlsplit(url.strip())
        query = "&".join(f"{pair.partition('=')[0]}=****" for pair in parts.query.split("&") if pair)
        return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, query, ""))
    except ValueError:
        return "(not a URL)"


def _ask(url: str, data: bytes, timeout_s: float) -> TimestampResult:
    """One authority's token for ``data``, checked; raises _Unusable with a short reason."""
    import requests
    from rfc3161_client import HashAlgorithm, TimestampRequestBuilder

    request = (TimestampRequestBuilder().data(data).hash_algorithm(HashAlgorithm.SHA256)
               .nonce(nonce=True).cert_request(cert_request=True).build())
    headers = {"Content-Type": "application/timestamp-query", "Accept": "application/timestamp-reply",
               "User-Agent": USER_AGENT}
    try:
        with requests.post(url.strip(), data=request.as_bytes(), headers=headers, timeout=timeout_s,
                           stream=True) as response:
            if response.status_code != 200:
                raise _Unusable(f"answered HTTP {response.status_code} {(response.reason or '')[:60]}".rstrip())
            reply = b""
            for chunk in response.iter_content(65536):  # (requests turns urllib3's errors into its own here)
                if len(reply := reply + chunk) > MAX_REPLY:
                    raise _Unusable(f"the reply is over {MAX_REPLY} bytes")
    except requests.Timeout:
        raise _Unusable(f"no answer within {timeout_s:g} s") from None
    except requests.ConnectionError as error:  # SSLError included; also a read timeout while streaming
        if "timed out" in str(error):
            raise _Unusable(f"no complete answer within {timeout_s:g} s") from None
        reason = next((hint for needle, hint in CONNECT_HINTS if needle in str(error)), type(error).__name__)
        raise _Unusable(f"cannot connect ({reason})") from None
    except ValueError as error:  # MissingSchema, InvalidURL …: an address requests cannot use
        raise _Unusable(f"not a usable URL ({type(error).__name__})") from None
    except requests.RequestException as error:  # a broken or undecodable body
        raise _Unusable(f"the exchange failed ({type(error).__name__})") from None
    token_der = _granted_token(reply)
    token, parsed = _read(token_der)
    if parsed.tst_info.nonce != request.nonce:
        raise _Unusable("the reply's nonce is not ours (a replayed or mixed-up reply)")
    problem = verify_timestamp(data, token_der, name="the token")
    if problem:
        raise _Unusable(problem)
    return TimestampResult(shown_url(url), token_der, _utc(parsed.tst_info.gen_time),
                           _tsa_name(token, parsed.tst_info), cms.chain_pem(token))


def _granted_token(reply: bytes) -> bytes:
    """The TimeStampToken of a DER TimeStampResp whose status is granted (0) or grantedWithMods (1)."""
    try:
        status, text, token = cms.split_response(reply)
    except cms.DerError:
        raise _Unusable("the reply is not an RFC 3161 timestamp response") from None
    if status not in (0, 1):
        raise _Unusable(f"refused the request (status {status}{': ' + text if text else ''})")
    if token is None:
        raise _Unusable("granted but sent no token")
    return token


def _read(token_der: bytes) -> tuple[cms.SignedToken, Any]:
    """The token's CMS parts and rfc3161-client's TimeStampResponse for it (TSTInfo read); raises _Unusable."""
    from rfc3161_client import decode_timestamp_response

    try:
        token = cms.parse(bytes(token_der))
        # rfc3161-client reads responses, not bare tokens: wrap the token in a granted TimeStampResp. Its
        # parser wants the certificate set in DER order, which OpenSSL-made tokens do not keep.
        body = bytes.fromhex("3003020100") + cms.der_sorted(bytes(token_der))
        response = decode_timestamp_response(cms.header(0x30, len(body)) + body)
        info = response.tst_info
        _touch = (info.gen_time, info.serial_number, info.nonce, info.message_imprint.message, info.policy)
        return token, response
    except BaseException as error:
        if not _bad_input(error):
            raise
        raise _Unusable("not a timestamp token") from None


def _bad_input(error: BaseException) -> bool:
    """What bad bytes can raise: an Exception, or PanicException (a BaseException: rfc3161-client's Rust unwraps)."""
    return isinstance(error, Exception) or type(error).__name__ == "PanicException"


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _tsa_name(token: cms.SignedToken, info: Any) -> str:
    """The TSTInfo's tsa name as a string, or else the signer certificate's subject (RFC 4514)."""
    from cryptography import x509

    for attempt in ("tsa", "signer"):  # the name may be absent ("No names found") or of a kind not shown
        try:
            if attempt == "tsa":
                value = info.name.value
                return value.rfc4514_string() if isinstance(value, x509.Name) else str(value)
            signer = cms.signer_certificate(token)
            return x509.load_der_x509_certificate(signer).subject.rfc4514_string() if signer else "(unnamed)"
        except BaseException as error:
            if not _bad_input(error):
                raise
    return "(unnamed)"
