"""MSAL for Python against the simulator: client secret, certificate (SHA-1 thumbprint
and SHA-256 with x5c), ROPC for a first-party public client, and error answers."""

import base64
import hashlib
import json
import re

import msal

TENANT = "conformance.example"
APP = "c0f0a000-0000-4000-8000-0000000000a1"
GRAPH_CLI = "14d82eec-204b-4c2f-b7e8-296a70dab67e"
GRAPH = ["https://graph.microsoft.com/.default"]


def claims(token):
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def credential(sim):
    text = (sim.state_dir / "conformance-conformance-app.pem").read_text()
    cert = re.search(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", text, re.S).group(0)
    key = re.search(r"-----BEGIN PRIVATE KEY-----.+?-----END PRIVATE KEY-----", text, re.S).group(0)
    der = base64.b64decode("".join(cert.splitlines()[1:-1]))
    return cert, key, hashlib.sha1(der).hexdigest()


def test_client_secret(sim):
    app = msal.ConfidentialClientApplication(
        APP, client_credential="conformance-secret-value", authority=sim.authority(TENANT))
    result = app.acquire_token_for_client(scopes=GRAPH)
    assert "access_token" in result, result
    assert result["token_type"] == "Bearer"
    c = claims(result["access_token"])
    assert c["aud"] == "https://graph.microsoft.com"
    assert c["tid"] == "c0f0a000-0000-4000-8000-000000000001"
    assert sorted(c["roles"]) == ["Mail.ReadWrite", "User.Read.All"]
    assert c["appidacr"] == "1"


def test_client_secret_wrong(sim):
    app = msal.ConfidentialClientApplication(
        APP, client_credential="not-the-secret", authority=sim.authority(TENANT))
    result = app.acquire_token_for_client(scopes=GRAPH)
    assert result["error"] == "invalid_client"
    assert result["error_codes"] == [7000215]
    assert result["error_description"].startswith("AADSTS7000215: ")


def test_certificate_sha1_thumbprint(sim):
    cert, key, sha1 = credential(sim)
    app = msal.ConfidentialClientApplication(
        APP, client_credential={"private_key": key, "thumbprint": sha1},
        authority=sim.authority(TENANT))
    result = app.acquire_token_for_client(scopes=GRAPH)
    assert "access_token" in result, result
    assert claims(result["access_token"])["appidacr"] == "2"


def test_certificate_sha256_with_x5c(sim):
    cert, key, _ = credential(sim)
    app = msal.ConfidentialClientApplication(
        APP, client_credential={"private_key": key, "public_certificate": cert},
        authority=sim.authority(TENANT))
    result = app.acquire_token_for_client(scopes=["https://outlook.office365.com/.default"])
    # No Exchange permission consented: a token for Exchange without roles.
    assert "access_token" in result, result
    assert "roles" not in claims(result["access_token"])
    result = app.acquire_token_for_client(scopes=GRAPH)
    assert "access_token" in result, result
    assert claims(result["access_token"])["appidacr"] == "2"


def test_certificate_not_registered(sim):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID
    import datetime

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "stranger")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    pem_key = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    app = msal.ConfidentialClientApplication(
        APP, client_credential={"private_key": pem_key,
                                "thumbprint": cert.fingerprint(hashes.SHA1()).hex()},
        authority=sim.authority(TENANT))
    result = app.acquire_token_for_client(scopes=GRAPH)
    assert result["error"] == "invalid_client"
    assert result["error_codes"] == [700027]


def test_password_grant(sim):
    app = msal.PublicClientApplication(GRAPH_CLI, authority=sim.authority(TENANT))
    result = app.acquire_token_by_username_password(
        "admin@conformance.example", "Conformance-Admin-1!", scopes=GRAPH)
    assert "access_token" in result, result
    c = claims(result["access_token"])
    assert c["upn"] == "admin@conformance.example"
    assert "62e90394-69f5-4237-9190-012177145e10" in c["wids"]
    assert result["id_token_claims"]["preferred_username"] == "admin@conformance.example"
    # The cache now holds the account; a silent call is served from it.
    accounts = app.get_accounts()
    assert [a["username"] for a in accounts] == ["admin@conformance.example"]


def test_password_grant_wrong_password(sim):
    app = msal.PublicClientApplication(GRAPH_CLI, authority=sim.authority(TENANT))
    result = app.acquire_token_by_username_password(
        "admin@conformance.example", "wrong", scopes=GRAPH)
    assert result["error"] == "invalid_grant"
    assert result["error_codes"] == [50126]


def test_unknown_tenant(sim):
    # MSAL reads the metadata first and refuses the authority, quoting Entra's answer.
    try:
        msal.PublicClientApplication(
            GRAPH_CLI, authority=sim.authority("c0f0a000-0000-4000-8000-0000000000ff"))
    except ValueError as e:
        assert "AADSTS90002" in str(e.__cause__ or e) or "90002" in repr(e.__context__), e
    else:
        raise AssertionError("an unknown tenant was accepted")


def test_sovereign_cloud_authority(sim):
    app = msal.PublicClientApplication(
        GRAPH_CLI, authority=sim.authority("govco.onmicrosoft.us", host="login.microsoftonline.us"))
    result = app.acquire_token_by_username_password(
        "admin@govco.onmicrosoft.us", "Govco-Admin-1!", scopes=["https://graph.microsoft.us/.default"])
    assert "access_token" in result, result
    assert claims(result["access_token"])["aud"] == "https://graph.microsoft.us"


def test_production_authority_unchanged(sim):
    # Only name resolution and the trust root differ from a real tenant.
    app = msal.ConfidentialClientApplication(
        APP, client_credential="conformance-secret-value",
        authority=f"https://login.microsoftonline.com/{TENANT}")
    result = app.acquire_token_for_client(scopes=GRAPH)
    assert "access_token" in result, result
