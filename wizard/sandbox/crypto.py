"""The sandbox's own PKI: a CA, a TLS server certificate for 127.0.0.1, and JWT signing.

Everything lives in the sandbox directory so a second ``serve`` on the same directory keeps
the same CA (kubeconfigs and CA bundles handed out earlier stay valid). Private keys are
written 0600. This module is sandbox-only: the wizard's client side never imports it.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# The CA a person adds to their trust (--ca-bundle, kubeconfigs) can vouch for nothing but the sandbox: it is
# name-constrained to loopback names and addresses (critical, so a client that cannot check it refuses it) and
# valid for a year at most; one that is not (an earlier version's, or near its end) is replaced on start.
CA_DAYS = 365
PERMITTED: list[x509.GeneralName] = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_network("127.0.0.0/8")),
                                     x509.IPAddress(ipaddress.ip_network("::1/128"))]


def _ca_current(path: Path) -> bool:
    """Whether the CA at ``path`` is name-constrained, valid a year at most, and not within 30 days of its end."""
    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
        cert.extensions.get_extension_for_class(x509.NameConstraints)
    except (ValueError, x509.ExtensionNotFound):
        return False
    life = cert.not_valid_after_utc - cert.not_valid_before_utc
    left = cert.not_valid_after_utc - dt.datetime.now(dt.UTC)
    return life <= dt.timedelta(days=CA_DAYS + 1) and left > dt.timedelta(days=30)


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(path, 0o600)


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem_key(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def b64url(data: bytes) -> str:
    """Base64url without padding, as JOSE uses it."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    """Inverse of :func:`b64url`."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Pki:
    """The sandbox CA, its server certificate and the token-signing key."""

    ca_cert: x509.Certificate
    ca_key: rsa.RSAPrivateKey
    ca_path: Path
    server_cert_path: Path
    server_key_path: Path
    signing_key: rsa.RSAPrivateKey
    kid: str

    @classmethod
    def load_or_create(cls, directory: Path) -> Pki:
        """Load the PKI from ``directory/pki``, creating it on first use."""
        pki = directory / "pki"
        pki.mkdir(parents=True, exist_ok=True)
        os.chmod(pki, 0o700)
        ca_path, ca_key_path = pki / "ca.pem", pki / "ca.key"
        srv_path, srv_key_path = pki / "server.pem", pki / "server.key"
        sig_path = pki / "signing.key"
        if not ca_path.exists() or not ca_key_path.exists() or not _ca_current(ca_path):
            ca_key = _new_key()
            name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "studioml-azure sandbox CA")])
            now = dt.datetime.now(dt.UTC)
            ca_cert = (
                x509.CertificateBuilder()
                .subject_name(name)
                .issuer_name(name)
                .public_key(ca_key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(days=1))
                .not_valid_after(now + dt.timedelta(days=CA_DAYS))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.NameConstraints(permitted_subtrees=PERMITTED, excluded_subtrees=None),
                               critical=True)
                .add_extension(
                    x509.KeyUsage(
                        digital_signature=True, key_cert_sign=True, crl_sign=True,
                        content_commitment=False, key_encipherment=False, data_encipherment=False,
                        key_agreement=False, encipher_only=False, decipher_only=False,
                    ),
                    critical=True,
                )
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
                .sign(ca_key, hashes.SHA256())
            )
            _write_private(ca_key_path, _pem_key(ca_key))
            ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
            srv_path.unlink(missing_ok=True)
        ca_key_loaded = serialization.load_pem_private_key(ca_key_path.read_bytes(), None)
        assert isinstance(ca_key_loaded, rsa.RSAPrivateKey)
        ca_cert = x509.load_pem_x509_certificate(ca_path.read_bytes())
        if not srv_path.exists() or not srv_key_path.exists():
            key = _new_key()
            cert = issue_certificate(
                ca_cert, ca_key_loaded, key, common_name="127.0.0.1", server=True,
                sans=[x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")],
            )
            _write_private(srv_key_path, _pem_key(key))
            srv_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        if not sig_path.exists():
            _write_private(sig_path, _pem_key(_new_key()))
        sig_key = serialization.load_pem_private_key(sig_path.read_bytes(), None)
        assert isinstance(sig_key, rsa.RSAPrivateKey)
        pub = sig_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        digest = hashes.Hash(hashes.SHA256())
        digest.update(pub)
        kid = b64url(digest.finalize())[:16]
        return cls(ca_cert, ca_key_loaded, ca_path, srv_path, srv_key_path, sig_key, kid)

    # --- JWT ---------------------------------------------------------------------------------

    def sign_jwt(self, claims: dict[str, Any]) -> str:
        """Sign ``claims`` as an RS256 JWT."""
        header = {"typ": "JWT", "alg": "RS256", "kid": self.kid}
        signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
        sig = self.signing_key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{b64url(sig)}"

    def verify_jwt(self, token: str) -> dict[str, Any] | None:
        """Return the claims of a token this sandbox signed and that has not expired, else None."""
        try:
            head, body, sig = token.split(".")
            self.signing_key.public_key().verify(
                b64url_decode(sig), f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256()
            )
            claims: dict[str, Any] = json.loads(b64url_decode(body))
        except (ValueError, InvalidSignature):
            return None
        if float(claims.get("exp", 0)) < time.time():
            return None
        return claims

    def jwks(self) -> dict[str, Any]:
        """The JSON Web Key Set that verifies this sandbox's tokens."""
        numbers = self.signing_key.public_key().public_numbers()

        def enc(n: int) -> str:
            return b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))

        return {"keys": [{"kty": "RSA", "use": "sig", "kid": self.kid, "alg": "RS256",
                          "n": enc(numbers.n), "e": enc(numbers.e)}]}

    def client_certificate(self, common_name: str, organization: str) -> tuple[str, str]:
        """Issue a client certificate (PEM cert, PEM key) signed by the CA, as AKS admin kubeconfigs carry."""
        key = _new_key()
        cert = issue_certificate(
            self.ca_cert, self.ca_key, key, common_name=common_name, organization=organization, server=False
        )
        return cert.public_bytes(serialization.Encoding.PEM).decode(), _pem_key(key).decode()


def issue_certificate(
    ca_cert: x509.Certificate,
    ca_key: rsa.RSAPrivateKey,
    key: rsa.RSAPrivateKey,
    *,
    common_name: str,
    server: bool,
    organization: str | None = None,
    sans: list[x509.GeneralName] | None = None,
) -> x509.Certificate:
    """Issue a leaf certificate for ``key`` signed by the CA."""
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(attrs))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(min(now + dt.timedelta(days=CA_DAYS), ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(ca_key, hashes.SHA256())


def new_guid() -> str:
    """A random GUID, as Azure uses for ids."""
    return str(uuid.uuid4())
