"""The urllib3 transport under stripe-python: real calls to localstripe, real sockets that fail,
and the proxy settings read from the environment."""

from __future__ import annotations

import base64
import datetime
import json
import os
import socket
import ssl
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.request import getproxies

import pytest
import stripe
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from urllib3.exceptions import ReadTimeoutError, SSLError

from shop.errors import ServiceUnavailable
from shop.payments.client import build_client, provider_errors
from shop.payments.transport import proxy_for
from tests.fixtures.stripe import SECRET_KEY

STRIPE_API = "https://api.stripe.com/v1/payment_intents"
INTENT = {"amount": 1234, "currency": "gbp", "metadata": {"order_id": "42"},
          "payment_method_types": ["card"]}


def config_for(api_base: str, timeout: float = 1) -> dict:
    return {"STRIPE_SECRET_KEY": SECRET_KEY, "STRIPE_API_BASE": api_base,
            "STRIPE_MAX_RETRIES": 0, "STRIPE_TIMEOUT_SECONDS": timeout}


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def silent_server():
    """A TCP server that accepts connections and never answers: its port."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    stopping, accepted = threading.Event(), []

    def accept_and_hold() -> None:
        while not stopping.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept_and_hold, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stopping.set()
    thread.join()
    for connection in [*accepted, listener]:
        connection.close()


def self_signed_certificate(directory) -> tuple[str, str]:
    """A certificate for 127.0.0.1 that no CA signed: (certificate file, key file)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + datetime.timedelta(hours=1))
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_file), str(key_file)


@pytest.fixture
def untrusted_https_server(tmp_path):
    """An HTTPS server whose certificate Stripe's CA bundle does not trust: its port."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*self_signed_certificate(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    thread.join()
    server.server_close()


class RecordingProxy(BaseHTTPRequestHandler):
    """An HTTP proxy that answers every request itself with a PaymentIntent, and records it."""

    seen: list[tuple[str, str | None]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.seen.append((self.path, self.headers.get("Proxy-Authorization")))
        body = json.dumps({"id": "pi_proxied", "object": "payment_intent"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args) -> None:
        pass


@pytest.fixture
def recording_proxy(monkeypatch):
    monkeypatch.setattr(RecordingProxy, "seen", [])
    server = ThreadingHTTPServer(("127.0.0.1", 0), RecordingProxy)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield server
    server.shutdown()
    thread.join()
    server.server_close()


@pytest.fixture
def no_proxy_settings(monkeypatch):
    for name in list(os.environ):
        if name.lower().endswith("_proxy"):
            monkeypatch.delenv(name)


def test_a_payment_intent_round_trips_and_a_repeated_idempotency_key_replays_it(
        stripe_settings):
    client = build_client(stripe_settings)
    key = f"transport-{uuid.uuid4()}"

    created = client.v1.payment_intents.create(params=INTENT, options={"idempotency_key": key})
    replayed = client.v1.payment_intents.create(params=INTENT, options={"idempotency_key": key})

    assert (created.amount, created.currency, created.metadata.to_dict()) == (
        1234, "gbp", {"order_id": "42"})
    assert replayed.id == created.id
    # Stripe's own lookups are lower-case: the reply's headers must match in any case.
    assert created.last_response.idempotency_key == key
    assert replayed.last_response.headers["idempotent-replayed"] == "true"
    assert client.v1.payment_intents.retrieve(created.id).amount == 1234


def test_a_closed_port_is_a_retryable_connection_error_and_a_503(closed_port):
    client = build_client(config_for(f"http://127.0.0.1:{closed_port}"))

    with pytest.raises(ServiceUnavailable) as raised, provider_errors("create a PaymentIntent"):
        client.v1.payment_intents.create(params=INTENT)

    assert (raised.value.status, raised.value.code) == (503, "payment_provider_unavailable")
    assert isinstance(raised.value.__cause__, stripe.APIConnectionError)
    assert raised.value.__cause__.should_retry is True


def test_a_reply_slower_than_the_timeout_is_a_retryable_connection_error(silent_server):
    client = build_client(config_for(f"http://127.0.0.1:{silent_server}", timeout=0.2))
    started = time.monotonic()

    with pytest.raises(stripe.APIConnectionError) as raised:
        client.v1.payment_intents.create(params=INTENT)

    assert raised.value.should_retry is True
    assert isinstance(raised.value.__cause__, ReadTimeoutError)
    assert time.monotonic() - started < 1


def test_a_certificate_stripes_ca_bundle_does_not_trust_is_not_retried(
        untrusted_https_server):
    client = build_client(config_for(f"https://127.0.0.1:{untrusted_https_server}"))

    with pytest.raises(stripe.APIConnectionError) as raised:
        client.v1.payment_intents.create(params=INTENT)

    assert raised.value.should_retry is False
    assert isinstance(raised.value.__cause__, SSLError)


def test_an_https_proxy_in_the_environment_is_used(no_proxy_settings, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")

    assert proxy_for(STRIPE_API, getproxies()) == "http://proxy.internal:3128"


def test_no_proxy_covering_the_stripe_host_connects_directly(no_proxy_settings, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "localhost,.stripe.com")

    assert proxy_for(STRIPE_API, getproxies()) is None


def test_without_proxy_settings_it_connects_directly(no_proxy_settings):
    assert proxy_for(STRIPE_API, getproxies()) is None


def test_a_proxy_given_to_the_client_is_used_even_for_hosts_no_proxy_names(
        no_proxy_settings, monkeypatch):
    monkeypatch.setenv("NO_PROXY", ".stripe.com")
    explicit = {"http": None, "https": "http://proxy.internal:3128"}

    assert proxy_for(STRIPE_API, getproxies(), explicit) == "http://proxy.internal:3128"


def test_calls_go_through_the_environments_proxy_with_its_credentials(
        no_proxy_settings, monkeypatch, recording_proxy):
    port = recording_proxy.server_address[1]
    monkeypatch.setenv("HTTP_PROXY", f"http://shop:p%40ss@127.0.0.1:{port}")
    # An unresolvable host: only the proxy can answer for it.
    client = build_client(config_for("http://stripe.invalid"))

    intent = client.v1.payment_intents.create(params=INTENT)

    assert intent.id == "pi_proxied"
    credentials = base64.b64encode(b"shop:p@ss").decode()
    assert RecordingProxy.seen == [
        ("http://stripe.invalid/v1/payment_intents", f"Basic {credentials}")]
