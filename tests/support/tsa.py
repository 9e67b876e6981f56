"""A local RFC 3161 timestamp authority for the tests: ``openssl ts -reply`` behind an HTTP server on 127.0.0.1.

:class:`TsaPki` makes, in a directory, a root CA, an intermediate CA and a TSA certificate whose extended key
usage is timeStamping (critical, as RFC 3161 §2.3 requires), with P-256 keys made by ``cryptography`` (the
signer's RSA-2048 with ``rsa_signer=True``), plus an ``openssl.cnf`` with a ``[tsa]`` section. Files (PEM):
``ca.pem`` (the root), ``intermediate.pem``, ``tsa.pem`` and ``tsa.key`` (the signer), ``chain.pem``
(intermediate then root: what ``openssl ts -reply -chain`` puts into each token next to the signer's
certificate).

:class:`TsaServer` answers ``POST`` (any path) with ``application/timestamp-query`` bodies by running
``openssl ts -reply`` and returning the DER ``TimeStampResp`` as ``application/timestamp-reply``. Its
``mode`` says how it answers: ``"ok"``, ``"garbage"`` (200 with bytes that are no response), ``"error"``
(HTTP 500), ``"hang"`` (answers nothing until the server stops, or ``HANG_S`` at most: for timeouts),
``"reject"`` (a TimeStampResp with status rejection and no token) or ``"replay"`` (to every query, a reply to
the first one: its nonce gives it away). ``queries`` keeps every body received, ``content_types`` their
Content-Type headers. Usable as a context manager (started on enter, stopped on exit).

Fixtures (tests/evidence/conftest.py): ``tsa_pki`` (session-wide; skips where the openssl command is missing)
and ``tsa`` (a started :class:`TsaServer` in mode ``"ok"``).
"""

from __future__ import annotations

import datetime as dt
import subprocess
import tempfile
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.support.loopback import QuietHandler, serve, shut

TSA_NAME = "Likeness Test TSA"
MODES = ("ok", "garbage", "error", "hang", "reject", "replay")
HANG_S = 120.0  # a "hang" answer's cap, far beyond any client timeout of the tests: only a client that ignores
# its timeout ever sees it

def _der(tag: int, contents: bytes) -> bytes:
    """One DER element with short-form length (contents < 128 bytes)."""
    return bytes([tag, len(contents)]) + contents


# A TimeStampResp refusing the request: PKIStatusInfo { status rejection (2), statusString { UTF8String },
# failInfo badAlg (bit 0) }, and no token.
REJECTION = _der(0x30, _der(0x30, _der(0x02, b"\x02") + _der(0x30, _der(0x0C, b"refused by the test"))
                            + _der(0x03, b"\x07\x80")))
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

OPENSSL_CNF = """\
# Only what `openssl ts -reply` reads (man ts, "CONFIGURATION FILE OPTIONS").
[ tsa ]
default_tsa = tsa_config

[ tsa_config ]
dir = {dir}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.pem
certs = $dir/chain.pem
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.99999.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Likeness tests"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_certificate(subject: str, key: PrivateKey, issuer: x509.Certificate | None, issuer_key: PrivateKey, *,
                     ca: bool, eku_critical: bool = True,
                     usage: x509.ObjectIdentifier = ExtendedKeyUsageOID.TIME_STAMPING) -> x509.Certificate:
    """A certificate valid from a day ago for two days: a CA (``ca=True``) or a signer whose extended key usage
    is ``usage`` (default timeStamping: a TSA)."""
    now = dt.datetime.now(dt.UTC)
    builder = (x509.CertificateBuilder()
               .subject_name(_name(subject))
               .issuer_name(issuer.subject if issuer else _name(subject))
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(days=1))
               .not_valid_after(now + dt.timedelta(days=2))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    if ca:
        builder = builder.add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                                        critical=True)
    else:
        builder = builder.add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False),
                                        critical=True)
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=eku_critical)
    return builder.sign(issuer_key, hashes.SHA256())


def pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


class TsaPki:
    """Keys, certificates and ``openssl.cnf`` of a test TSA in ``directory``; see the module docstring."""

    def __init__(self, directory: Path, name: str = TSA_NAME, *, rsa_signer: bool = False) -> None:
        self.directory = directory
        root_key, intermediate_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
        tsa_key: PrivateKey = (rsa.generate_private_key(65537, 2048) if rsa_signer
                               else ec.generate_private_key(ec.SECP256R1()))
        self.root = make_certificate(f"{name} Root CA", root_key, None, root_key, ca=True)
        self.intermediate = make_certificate(f"{name} Intermediate CA", intermediate_key, self.root, root_key, ca=True)
        self.certificate = make_certificate(name, tsa_key, self.intermediate, intermediate_key, ca=False)
        self.ca_pem, self.intermediate_pem = directory / "ca.pem", directory / "intermediate.pem"
        self.tsa_pem, self.tsa_key = directory / "tsa.pem", directory / "tsa.key"
        self.chain_pem = directory / "chain.pem"
        self.config = directory / "openssl.cnf"
        self.ca_pem.write_bytes(pem(self.root))
        self.intermediate_pem.write_bytes(pem(self.intermediate))
        self.tsa_pem.write_bytes(pem(self.certificate))
        self.chain_pem.write_bytes(pem(self.intermediate) + pem(self.root))
        self.tsa_key.write_bytes(tsa_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
        self.config.write_text(OPENSSL_CNF.format(dir=directory))
        # One reply at a time: openssl reads and rewrites the serial file.
        self._lock = threading.Lock()

    def reply(self, query: bytes) -> bytes:
        """The DER ``TimeStampResp`` ``openssl ts -reply`` makes for a DER ``TimeStampReq``."""
        with self._lock, tempfile.TemporaryDirectory(dir=self.directory) as work:
            query_file, reply_file = Path(work) / "query.tsq", Path(work) / "reply.tsr"
            query_file.write_bytes(query)
            subprocess.run(["openssl", "ts", "-reply", "-config", str(self.config), "-queryfile", str(query_file),
                            "-inkey", str(self.tsa_key), "-signer", str(self.tsa_pem), "-chain", str(self.chain_pem),
                            "-out", str(reply_file)], check=True, capture_output=True, timeout=60)
            return reply_file.read_bytes()


class TsaServer:
    """An HTTP timestamp authority on 127.0.0.1 in a thread of its own; see the module docstring."""

    def __init__(self, pki: TsaPki, mode: str = "ok") -> None:
        if mode not in MODES:
            raise ValueError(f"mode is one of {MODES}")
        self.pki, self.mode = pki, mode
        self.queries: list[bytes] = []
        self.content_types: list[str] = []  # of each query, as sent
        self.port = 0  # once started; kept after stop() so that messages can still be matched with url
        self._server: ThreadingHTTPServer | None = None
        self._released = threading.Event()  # set on stop: "hang" handlers return

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/tsr"

    def start(self) -> str:
        """Listen on a free port; returns :attr:`url`."""
        authority = self
        self._released.clear()

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                body = self.read_body()
                authority.queries.append(body)
                authority.content_types.append(self.headers.get("Content-Type", ""))
                if authority.mode == "hang":
                    authority._released.wait(HANG_S)
                    self.close_connection = True  # the client gave up long ago
                    return
                status, answer = 200, b""
                if authority.mode == "garbage":
                    answer = b"<html>this is not a timestamp</html>"
                elif authority.mode == "error":
                    status, answer = 500, b"internal error"
                elif authority.mode == "reject":
                    answer = REJECTION
                else:
                    try:
                        answer = authority.pki.reply(authority.queries[0] if authority.mode == "replay" else body)
                    except subprocess.CalledProcessError:  # not a query openssl understands
                        status, answer = 400, b"bad query"
                self.answer(status, answer,
                            {"Content-Type": "application/timestamp-reply" if status == 200 else "text/plain"})

        # A short poll: stop() (shutdown) waits for the loop to notice, 0.5 s by default.
        self._server = serve(Handler, poll_s=0.05)
        self.port = self._server.server_port
        return self.url

    def stop(self) -> None:
        self._released.set()
        shut(self._server)
        self._server = None

    def __enter__(self) -> TsaServer:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

