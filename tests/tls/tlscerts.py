"""Test certificates for the dtls/tls suites, made fresh at test time (never committed):
a fleet CA, the collector's certificate, a device certificate, the same device under a
foreign CA, and an expired device certificate.  EC P-256 keys, PEM files."""
import datetime
import hashlib
import ipaddress
import pathlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write(dirpath, stem, cert, key):
    crt = dirpath / f"{stem}.crt"
    kp = dirpath / f"{stem}.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    kp.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                     serialization.PrivateFormat.TraditionalOpenSSL,
                                     serialization.NoEncryption()))
    kp.chmod(0o600)
    return crt, kp


def _ca(cn, now):
    key = _key()
    cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                         crl_sign=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    return cert, key


def _leaf(cn, ca, ca_key, not_before, not_after, server):
    key = _key()
    b = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(ca.subject)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(not_before).not_valid_after(not_after)
         .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
         .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH if server
                                               else ExtendedKeyUsageOID.CLIENT_AUTH]),
                        critical=False))
    if server:
        b = b.add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
    return b.sign(ca_key, hashes.SHA256()), key


def fingerprint(crt_path):
    """SHA-256 of the certificate's DER: what the key store holds."""
    cert = x509.load_pem_x509_certificate(pathlib.Path(crt_path).read_bytes())
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def make_fleet(dirpath, device="dev-cert"):
    """Write the set into dirpath; return a dict of paths."""
    d = pathlib.Path(dirpath)
    d.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    ca, ca_key = _ca("corecast fleet CA", now)
    foreign, foreign_key = _ca("some other CA", now)
    out = {"device": device}
    out["ca"], _ = _write(d, "fleet-ca", ca, ca_key)
    out["foreign_ca"], _ = _write(d, "foreign-ca", foreign, foreign_key)
    valid = (now - datetime.timedelta(hours=1), now + datetime.timedelta(days=7))
    c, k = _leaf("corecast-collector", ca, ca_key, *valid, server=True)
    out["server_crt"], out["server_key"] = _write(d, "collector", c, k)
    c, k = _leaf(device, ca, ca_key, *valid, server=False)
    out["dev_crt"], out["dev_key"] = _write(d, "device", c, k)
    c, k = _leaf(device, foreign, foreign_key, *valid, server=False)
    out["foreign_crt"], out["foreign_key"] = _write(d, "device-foreign", c, k)
    c, k = _leaf(device, ca, ca_key, now - datetime.timedelta(days=10),
                 now - datetime.timedelta(days=1), server=False)
    out["expired_crt"], out["expired_key"] = _write(d, "device-expired", c, k)
    return out
