"""The generated certificates are what the apiserver and kubectl need."""

import ipaddress

from cryptography import x509
from cryptography.x509.oid import NameOID

from app.simcluster.pki import create_pki


def _cert(path):
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_the_admin_client_certificate_is_in_system_masters_and_signed_by_the_ca(tmp_path):
    pki = create_pki(tmp_path)
    ca, admin = _cert(pki.ca_cert), _cert(pki.admin_cert)
    assert admin.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "system:masters"
    admin.verify_directly_issued_by(ca)


def test_the_serving_certificate_covers_loopback_and_the_service_names(tmp_path):
    pki = create_pki(tmp_path)
    san = _cert(pki.serving_cert).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("127.0.0.1") in san.get_values_for_type(x509.IPAddress)
    assert "kubernetes.default.svc" in san.get_values_for_type(x509.DNSName)
    _cert(pki.serving_cert).verify_directly_issued_by(_cert(pki.ca_cert))


def test_private_keys_are_readable_only_by_their_owner(tmp_path):
    pki = create_pki(tmp_path)
    for key in (pki.admin_key, pki.serving_key, pki.sa_private):
        assert key.stat().st_mode & 0o077 == 0
