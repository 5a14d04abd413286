"""The install's own certificate authority, and the services' TLS certificates it signs.

Experimenters reach RabbitMQ (AMQPS) and the file server (S3 over HTTPS) over TLS and trust only this install's CA
(its certificate goes into their client configuration). The CA's private key lives in the OS keyring and nowhere else
on the admin host; each service's key and certificate are made here, kept in the keyring (read back), and delivered
to its VM (cloud-init at creation, Run Command on renewal). A certificate names every name and address a client or a
runner uses: the service's DNS name, its public IP when it has one, and its private IP.

Lifetimes: the CA 10 years (replacing it means every experimenter's configuration changes); server certificates 397
days (the CA/Browser Forum's ceiling, which TLS clients increasingly apply to every CA), renewed by ``apply`` once
fewer than :data:`RENEW_DAYS` remain or when a name or address changed.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from . import secrets as keys

CA_DAYS, SERVER_DAYS, RENEW_DAYS = 3650, 397, 30


@dataclass(frozen=True)
class ServerCert:
    """A service's certificate and key (PEM) as kept in the keyring."""

    cert: str
    key: str

    @property
    def fingerprint(self) -> str:
        """SHA-256 over the DER certificate, hex (what a VM tag records as delivered)."""
        der = x509.load_pem_x509_certificate(self.cert.encode()).public_bytes(serialization.Encoding.DER)
        return hashlib.sha256(der).hexdigest()


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _make_key() -> str:
    return _key_pem(ec.generate_private_key(ec.SECP256R1()))


def _make_ca_cert(uniq_id: str, key_pem: str) -> str:
    key = serialization.load_pem_private_key(key_pem.encode(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"studioml-azure install {uniq_id} CA")])
    now = _now()
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def new_ca(uniq_id: str) -> tuple[str, str]:
    """A new CA (key PEM, certificate PEM), kept nowhere (tests; :func:`ca` keeps the install's)."""
    key = _make_key()
    return key, _make_ca_cert(uniq_id, key)


def ca(store: keys.SecretStore, uniq_id: str) -> tuple[str, str]:
    """(CA key PEM, CA certificate PEM): from the keyring, made there first (key, then its certificate, each read
    back; steps on other threads get the same ones)."""
    key = store.ensure(keys.TLS_CA_KEY, _make_key)
    return key, store.ensure(keys.TLS_CA_CERT, lambda: _make_ca_cert(uniq_id, key))


def ca_certificate(store: keys.SecretStore) -> str | None:
    """The CA certificate, if the install has one."""
    return store.get(keys.TLS_CA_CERT)


def names_of(cert_pem: str) -> tuple[set[str], set[str]]:
    """(DNS names, IP addresses) a certificate is valid for."""
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set(), set()
    return set(san.get_values_for_type(x509.DNSName)), {str(a) for a in san.get_values_for_type(x509.IPAddress)}


def not_after(cert_pem: str) -> datetime.datetime:
    """When a certificate expires (UTC)."""
    return x509.load_pem_x509_certificate(cert_pem.encode()).not_valid_after_utc


def why_renew(cert_pem: str | None, ca_pem: str, dns: list[str], ips: list[str]) -> str:
    """Why a service's certificate must be issued again ('' when it is fine as it is)."""
    if cert_pem is None:
        return "no certificate yet"
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    issuer = x509.load_pem_x509_certificate(ca_pem.encode())
    if cert.issuer != issuer.subject:
        return "signed by another CA"
    left = cert.not_valid_after_utc - _now()
    if left < datetime.timedelta(days=RENEW_DAYS):
        return f"expires {cert.not_valid_after_utc:%Y-%m-%d} (renewed {RENEW_DAYS} days ahead)"
    have_dns, have_ips = names_of(cert_pem)
    missing = sorted(set(dns) - have_dns) + sorted(set(ips) - have_ips)
    extra = sorted(have_dns - set(dns)) + sorted(have_ips - set(ips))
    if missing or extra:
        return "names changed: " + ", ".join([f"+{n}" for n in missing] + [f"-{n}" for n in extra])
    return ""


def issue(ca_key_pem: str, ca_pem: str, common: str, dns: list[str], ips: list[str]) -> ServerCert:
    """A server certificate for these names and addresses, signed by the CA."""
    ca_key = serialization.load_pem_private_key(ca_key_pem.encode(), None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    issuer = x509.load_pem_x509_certificate(ca_pem.encode())
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    alt: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
    alt += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)]))
            .issuer_name(issuer.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=SERVER_DAYS))
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return ServerCert(cert.public_bytes(serialization.Encoding.PEM).decode(), _key_pem(key))


def server_cert(store: keys.SecretStore, uniq_id: str, role: str, dns: list[str], ips: list[str],
                *, renew: bool = True) -> ServerCert:
    """The service's certificate from the keyring; issued (key and certificate stored, read back) when it is missing,
    or, with ``renew``, when :func:`why_renew` says so."""
    ca_key, ca_pem = ca(store, uniq_id)
    cert, key = store.get(keys.tls_cert(role)), store.get(keys.tls_key(role))
    if cert is not None and key is not None and (not renew or not why_renew(cert, ca_pem, dns, ips)):
        return ServerCert(cert, key)
    made = issue(ca_key, ca_pem, dns[0] if dns else role, dns, ips)
    key = store.put(keys.tls_key(role), made.key)
    cert = store.put(keys.tls_cert(role), made.cert)
    return ServerCert(cert, key)
