"""RFC 3161 timestamps of evidence manifests against a timestamp authority run here (openssl ts on 127.0.0.1).

Nothing goes beyond 127.0.0.1: every URL is a :class:`tests.support.tsa.TsaServer` or a closed local port.
"""

from __future__ import annotations

import datetime as dt
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7

from enrollment.errors import LikenessError
from monitor.config import EvidenceSettings
from monitor.evidence import cms
from monitor.evidence.timestamp import TimestampResult, describe, request_timestamp, shown_url, verify_timestamp
from tests.support.tsa import HANG_S, TSA_NAME, TsaPki, TsaServer, make_certificate

MANIFEST = b'{"bundle": "test", "files": {"detection.json": "sha256:0123"}}\n'
OTHER = b'{"bundle": "test", "files": {"detection.json": "sha256:0124"}}\n'


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy of the developer's shell stands between requests and 127.0.0.1."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


def settings(*urls: str, timeout_s: float = 30.0) -> EvidenceSettings:
    """``timeout_s``: a safety net by default; the tests of a hanging authority set the time they wait out. Even
    then it is generous for every other authority, whose ``openssl ts -reply`` may be slow to start on a loaded
    machine."""
    return EvidenceSettings(timestamp_urls=list(urls), timestamp_timeout_s=timeout_s)


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens: a port the system just handed out and we closed."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/tsr"


@pytest.fixture(scope="module")
def stamped(tsa_pki: TsaPki) -> TimestampResult:
    """One token over MANIFEST from the local TSA, shared by the read-only tests below."""
    with TsaServer(tsa_pki) as server:
        return request_timestamp(MANIFEST, settings(server.url))


# ------------------------------------------------------------------------------------------ happy path


def test_token_from_the_local_tsa_verifies_with_and_without_the_root(tsa: TsaServer, tsa_pki: TsaPki) -> None:
    before = dt.datetime.now(dt.UTC)
    result = request_timestamp(MANIFEST, settings(tsa.url))
    assert result is not None and result.url == tsa.url
    assert before - dt.timedelta(seconds=5) <= result.gen_time <= dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)
    assert result.gen_time.tzinfo is not None and result.gen_time.utcoffset() == dt.timedelta(0)
    assert TSA_NAME in result.tsa_name
    # The chain as the token carries it: the TSA's certificate first, then up to the root.
    chain = x509.load_pem_x509_certificates(result.chain_pem)
    assert chain == [tsa_pki.certificate, tsa_pki.intermediate, tsa_pki.root]
    assert verify_timestamp(MANIFEST, result.token_der) is None
    assert verify_timestamp(MANIFEST, result.token_der, tsa_pki.ca_pem.read_bytes()) is None
    # Roots given as a bundle with the intermediate (not self-signed: used as an intermediate) work too.
    both = tsa_pki.intermediate_pem.read_bytes() + tsa_pki.ca_pem.read_bytes()
    assert verify_timestamp(MANIFEST, result.token_der, both) is None
    # What went over the wire: one RFC 3161 query, SHA-256 of the data, a nonce, certificates asked for.
    assert tsa.content_types == ["application/timestamp-query"]
    assert len(tsa.queries) == 1


def test_the_query_is_sha256_with_nonce_and_cert_req(tsa: TsaServer, tmp_path: Path) -> None:
    request_timestamp(MANIFEST, settings(tsa.url))
    query = tmp_path / "query.tsq"
    query.write_bytes(tsa.queries[0])
    text = subprocess.run(["openssl", "ts", "-query", "-in", str(query), "-text"], capture_output=True, text=True,
                          check=True, timeout=60).stdout
    assert "Hash Algorithm: sha256" in text
    assert "Certificate required: yes" in text
    assert "Nonce: 0x" in text


def test_openssl_verifies_the_token_we_got(stamped: TimestampResult, tsa_pki: TsaPki, tmp_path: Path) -> None:
    data, token = tmp_path / "manifest.json", tmp_path / "manifest.json.tsr"
    data.write_bytes(MANIFEST)
    token.write_bytes(stamped.token_der)
    command = ["openssl", "ts", "-verify", "-data", str(data), "-in", str(token), "-token_in",
               "-CAfile", str(tsa_pki.ca_pem), "-untrusted", str(tsa_pki.tsa_pem)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Verification: OK" in done.stdout
    data.write_bytes(OTHER)  # and openssl agrees that it is not a timestamp of other bytes
    assert subprocess.run(command, capture_output=True, text=True, timeout=60).returncode != 0


def test_an_rsa_signed_token_verifies(tmp_path: Path) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is missing (it signs the test timestamps: openssl ts -reply)")
    pki = TsaPki(tmp_path, "RSA Test TSA", rsa_signer=True)
    with TsaServer(pki) as server:
        result = request_timestamp(MANIFEST, settings(server.url))
    assert cms.parse(result.token_der).signature_oid.startswith("1.2.840.113549.1.1.")
    assert verify_timestamp(MANIFEST, result.token_der) is None
    assert verify_timestamp(MANIFEST, result.token_der, pki.ca_pem.read_bytes()) is None
    assert verify_timestamp(OTHER, result.token_der) == "manifest.json.tsr: the timestamp is over different data"


def test_describe_gives_time_and_authority(stamped: TimestampResult) -> None:
    described = describe(stamped.token_der)
    assert dt.datetime.fromisoformat(described["gen_time"]) == stamped.gen_time
    assert described["tsa"] == stamped.tsa_name and TSA_NAME in described["tsa"]
    assert described["hash_algorithm"] == "sha256"
    assert described["serial"].isdigit()
    assert described["policy"] == "1.3.6.1.4.1.99999.1"  # default_policy of tests/support/tsa.py's openssl.cnf
    with pytest.raises(LikenessError) as caught:
        describe(b"not a token")
    assert str(caught.value) == "manifest.json.tsr: not a timestamp token"


# ------------------------------------------------------------------------------------------- problems


def test_the_token_over_other_data_is_a_problem(stamped: TimestampResult, tsa_pki: TsaPki) -> None:
    expected = "manifest.json.tsr: the timestamp is over different data"
    assert verify_timestamp(OTHER, stamped.token_der) == expected
    assert verify_timestamp(OTHER, stamped.token_der, tsa_pki.ca_pem.read_bytes()) == expected
    assert verify_timestamp(b"", stamped.token_der, name="x.tsr") == "x.tsr: the timestamp is over different data"
    assert verify_timestamp(b"", stamped.token_der, name="") == "the timestamp is over different data"


def test_roots_that_did_not_issue_the_tsa_are_a_problem(stamped: TimestampResult, tsa_pki: TsaPki,
                                                         tmp_path: Path) -> None:
    stranger = TsaPki(tmp_path, "Stranger TSA")
    # The token carries its own root: it must not count as trusted.
    problem = verify_timestamp(MANIFEST, stamped.token_der, stranger.ca_pem.read_bytes())
    assert problem and problem.startswith("manifest.json.tsr: the timestamp does not chain to a trusted root (")
    assert "\n" not in problem
    # The intermediate alone is not a root.
    problem = verify_timestamp(MANIFEST, stamped.token_der, tsa_pki.intermediate_pem.read_bytes())
    assert problem == "manifest.json.tsr: the trusted roots given hold no self-signed (root) certificate"
    problem = verify_timestamp(MANIFEST, stamped.token_der, b"-----BEGIN CERTIFICATE-----\nnope\n")
    assert problem == "manifest.json.tsr: the trusted roots given are not PEM certificates"


@pytest.mark.parametrize("garbage", [b"", b"garbage", bytes(range(256)) * 4, b"\x30\x82\xff\xff\x06",
                                     b"\x30\x03\x02\x01\x00"])
def test_garbage_is_not_a_timestamp_token(garbage: bytes, tsa_pki: TsaPki) -> None:
    expected = "manifest.json.tsr: not a timestamp token"
    assert verify_timestamp(MANIFEST, garbage) == expected
    assert verify_timestamp(MANIFEST, garbage, tsa_pki.ca_pem.read_bytes()) == expected


def test_a_response_or_another_signed_message_is_not_a_token(stamped: TimestampResult, tsa_pki: TsaPki) -> None:
    response = cms.header(0x30, 5 + len(stamped.token_der)) + bytes.fromhex("3003020100") + stamped.token_der
    assert verify_timestamp(MANIFEST, response) == "manifest.json.tsr: not a timestamp token"
    key = ec.generate_private_key(ec.SECP256R1())
    signer = make_certificate("Some signer", key, None, key, ca=False)
    signed = (pkcs7.PKCS7SignatureBuilder().set_data(MANIFEST).add_signer(signer, key, hashes.SHA256())
              .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary]))
    assert verify_timestamp(MANIFEST, signed) == "manifest.json.tsr: not a timestamp token"


def test_a_flipped_byte_in_a_signed_part_is_a_problem_never_an_exception(stamped: TimestampResult,
                                                                           tsa_pki: TsaPki) -> None:
    token = stamped.token_der
    parts = cms.parse(token)
    signer = cms.signer_certificate(parts)
    assert signer is not None

    def span(element: bytes) -> range:
        start = token.index(element)
        return range(start, start + len(element))

    # Everything the signature covers, and the certificate that checks it. (Not protected, and not flagged
    # without roots: the SignedData's version and digestAlgorithms, and certificates nobody uses.)
    protected = {*span(parts.tst_info), *span(signer), *span(parts.signed_attrs), *span(parts.signature)}
    roots = tsa_pki.ca_pem.read_bytes()
    for position in range(len(token)):
        flipped = bytearray(token)
        flipped[position] ^= 0x01
        for given in (None, roots):
            problem = verify_timestamp(MANIFEST, bytes(flipped), given)  # never raises
            assert problem is None or (problem.startswith("manifest.json.tsr: ") and "\n" not in problem)
            if position in protected:
                assert problem is not None, f"byte {position} flipped went unnoticed (roots: {bool(given)})"
    # The last byte is the signature's: the typical answer.
    flipped = token[:-1] + bytes([token[-1] ^ 0x01])
    assert verify_timestamp(MANIFEST, flipped) == "manifest.json.tsr: signature does not verify"
    # The last digit of the genTime (still a valid time): the signed digest no longer matches.
    at = token.index(stamped.gen_time.strftime("%Y%m%d%H%M%S").encode()) + 13
    flipped = token[:at] + bytes([token[at] ^ 0x01]) + token[at + 1:]
    assert verify_timestamp(MANIFEST, flipped) == "manifest.json.tsr: the TSTInfo is not the one signed"


# ------------------------------------------------------------------------------ authorities, in order


@pytest.mark.parametrize("mode", ["error", "garbage", "reject", "hang"])
def test_a_failing_first_authority_falls_through_to_the_second(mode: str, tsa: TsaServer, tsa_pki: TsaPki) -> None:
    with TsaServer(tsa_pki, mode) as failing:
        started = time.monotonic()
        result = request_timestamp(MANIFEST, settings(failing.url, tsa.url, timeout_s=5.0))
        elapsed = time.monotonic() - started
    assert result is not None and result.url == tsa.url
    assert len(failing.queries) == 1 and len(tsa.queries) == 1
    assert verify_timestamp(MANIFEST, result.token_der, tsa_pki.ca_pem.read_bytes()) is None
    # a hanging authority costs about the 5 s timeout: far less than its hang, whatever the machine's load
    assert elapsed < HANG_S / 4


def test_the_first_good_authority_is_the_only_one_asked(tsa: TsaServer, tsa_pki: TsaPki) -> None:
    with TsaServer(tsa_pki) as second:
        result = request_timestamp(MANIFEST, settings(tsa.url, second.url))
    assert result.url == tsa.url and len(tsa.queries) == 1 and second.queries == []


def test_all_failing_is_one_line_naming_each(tsa_pki: TsaPki) -> None:
    closed = closed_port_url()
    with (TsaServer(tsa_pki, "error") as error, TsaServer(tsa_pki, "garbage") as garbage,
          TsaServer(tsa_pki, "reject") as reject, TsaServer(tsa_pki, "hang") as hang,
          pytest.raises(LikenessError) as caught):
        request_timestamp(MANIFEST, settings(error.url, garbage.url, reject.url, hang.url, closed, "nonsense",
                                             timeout_s=5.0))
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("no timestamp authority granted a timestamp: ")
    assert f"{error.url}: answered HTTP 500" in message
    assert f"{garbage.url}: the reply is not an RFC 3161 timestamp response" in message
    assert f"{reject.url}: refused the request (status 2: refused by the test)" in message
    assert f"{hang.url}: no answer within 5 s" in message
    assert f"{closed}: cannot connect (connection refused)" in message
    assert "nonsense: not a usable URL" in message


def test_a_replayed_reply_is_refused_by_its_nonce(tsa_pki: TsaPki) -> None:
    with TsaServer(tsa_pki, "replay") as replay:
        assert request_timestamp(MANIFEST, settings(replay.url)) is not None  # the first reply is to our query
        with pytest.raises(LikenessError) as caught:
            request_timestamp(MANIFEST, settings(replay.url))
    assert "the reply's nonce is not ours" in str(caught.value)


def test_no_authority_configured_is_none(tsa: TsaServer) -> None:
    assert request_timestamp(MANIFEST, settings()) is None
    assert request_timestamp(MANIFEST, EvidenceSettings(timestamp_urls=[], timestamp_timeout_s=20.0)) is None
    assert tsa.queries == []


def test_empty_data_is_refused_before_asking(tsa: TsaServer) -> None:
    with pytest.raises(LikenessError, match="the data is empty"):
        request_timestamp(b"", settings(tsa.url))
    assert tsa.queries == []


def test_credentials_in_the_url_stay_out_of_results_and_messages(tsa: TsaServer, tsa_pki: TsaPki) -> None:
    result = request_timestamp(MANIFEST, settings(f"http://operator:s3cret@127.0.0.1:{tsa.port}/tsr?key=k3y"))
    assert result.url == f"http://127.0.0.1:{tsa.port}/tsr?key=****"
    with TsaServer(tsa_pki, "error") as error, pytest.raises(LikenessError) as caught:
        request_timestamp(MANIFEST, settings(f"http://operator:s3cret@127.0.0.1:{error.port}/tsr?key=k3y"))
    assert "s3cret" not in str(caught.value) and "k3y" not in str(caught.value) and "operator" not in str(caught.value)
    assert shown_url("https://u:p@tsa.example/x?a=1&b") == "https://tsa.example/x?a=****&b=****"


# --------------------------------------------------------------------------------- signer certificate


def test_the_signer_certificate_must_be_for_timestamping_and_valid_then() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    root = make_certificate("Root", key, None, key, ca=True)
    good = make_certificate("TSA", key, root, key, ca=False).public_bytes(serialization.Encoding.DER)
    lax = make_certificate("TSA", key, root, key, ca=False, eku_critical=False).public_bytes(serialization.Encoding.DER)
    now = dt.datetime.now(dt.UTC)
    assert cms.timestamping_problem(good, now) is None
    assert "not for timestamping" in cms.timestamping_problem(lax, now)
    assert "not for timestamping" in cms.timestamping_problem(root.public_bytes(serialization.Encoding.DER), now)
    assert "not valid at the timestamp's time" in cms.timestamping_problem(good, now + dt.timedelta(days=30))
