"""TLS for the API's listener: the server's SSL context from ``[http] tls_cert``/``tls_key``,
the key file's permissions checked first, and a self-signed certificate for the demo and the
tests (made with ``cryptography``), with the client context that trusts it and nothing else.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
import stat
from dataclasses import dataclass
from pathlib import Path

import structlog
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

log = structlog.get_logger(__name__)

LOCAL_NAMES = ("localhost",)
LOCAL_ADDRESSES = ("127.0.0.1", "::1")
# What a strict verifier (X509_STRICT, Python 3.13's default) asks of a CA that signs for a server.
_KEY_USAGE = x509.KeyUsage(
    digital_signature=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=False,
    encipher_only=False,
    decipher_only=False,
)


class TlsSetupError(OSError):
    """The listener cannot serve TLS as configured (a key others can read, a file that does not
    load); an OSError so that ``run`` reports it as it does a port that is taken."""


def key_mode_problem(mode: int) -> tuple[str, bool] | None:
    """What is wrong with a private key file's permission bits: (why, refuse). Readable or
    writable by every user: refused. Readable by its group: a warning (a key shared with a web
    server's group, 0640, is a common and deliberate setup)."""
    if mode & (stat.S_IROTH | stat.S_IWOTH):
        return f"mode {stat.S_IMODE(mode):04o} lets every user read or change it; chmod 600 it", True
    if mode & (stat.S_IRGRP | stat.S_IWGRP):
        return f"mode {stat.S_IMODE(mode):04o} lets its group read or change it", False
    return None


def check_key_file(path: Path) -> None:
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise TlsSetupError(f"http.tls_key: cannot read {path}: {exc.strerror}") from None
    problem = key_mode_problem(mode)
    if problem is None:
        return
    why, refuse = problem
    if refuse:
        raise TlsSetupError(f"http.tls_key: {path}: {why}")
    log.warning("tls_key_group_readable", path=str(path), problem=why)


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    """TLS 1.2 at least, Python's default server ciphers (forward secrecy, AEAD first)."""
    check_key_file(key)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or str(exc)
        raise TlsSetupError(f"http.tls_cert/tls_key: cannot load {cert} with {key}: {reason}") from None
    return context


def client_context(ca_file: Path) -> ssl.SSLContext:
    """A client that trusts ``ca_file`` alone (and checks the host name against it): how the
    demo and the tests talk to a server with a self-signed certificate, verification kept on."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca_file))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


@dataclass(frozen=True)
class CertificateFiles:
    cert: Path
    key: Path


def self_signed(
    folder: Path,
    *,
    names: tuple[str, ...] = LOCAL_NAMES,
    addresses: tuple[str, ...] = LOCAL_ADDRESSES,
    days: int = 30,
    now: dt.datetime | None = None,
) -> CertificateFiles:
    """A new key (EC P-256) and a certificate for ``names`` and ``addresses`` (in its subject
    alternative names, which is what clients match), written to ``folder`` (0600 each)."""
    now = now or dt.datetime.now(dt.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0] if names else addresses[0])])
    alt = [x509.DNSName(n) for n in names] + [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        # Its own CA, so a client can name it as the one authority it trusts.
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(_KEY_USAGE, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    files = CertificateFiles(folder / "cert.pem", folder / "key.pem")
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    _write_private(files.key, key_pem)
    _write_private(files.cert, cert.public_bytes(serialization.Encoding.PEM))
    return files


def _write_private(path: Path, data: bytes) -> None:
    """0600 from the first byte, whatever the umask; a file left by an earlier run narrowed too."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
    finally:
        os.close(fd)
