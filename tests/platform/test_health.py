"""Probes outside /api/v1 for load balancers."""

from sqlalchemy.exc import OperationalError

from shop.extensions import db


def test_health(client):
    response = client.get("/health")
    assert response.status_code == 200 and response.json == {"status": "ok"}


def test_ready_when_the_database_answers(client):
    assert client.get("/ready").json == {"status": "ready"}


def test_not_ready_when_the_database_fails(client, monkeypatch):
    def broken(*_args, **_kwargs):
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(db.session, "execute", broken)
    response = client.get("/ready")
    assert response.status_code == 503
    assert response.json["code"] == "database_unavailable"


def test_cors_only_for_configured_origins(app_config):
    from shop import create_app

    app = create_app({**app_config, "CORS_ORIGINS": ["https://shop.aestheticsglow.example"]})
    client = app.test_client()
    allowed = client.get("/api/v1/categories", headers={"Origin": "https://shop.aestheticsglow.example"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://shop.aestheticsglow.example"
    denied = client.get("/api/v1/categories", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in denied.headers


def test_client_address_comes_from_trusted_proxies_only(app_config):
    from flask import request

    from shop import create_app

    def client_ip(config):
        probe = create_app(config)
        probe.add_url_rule("/_test/ip", "ip", lambda: {"ip": request.remote_addr})
        return probe.test_client().get(
            "/_test/ip", headers={"X-Forwarded-For": "203.0.113.9"},
            environ_base={"REMOTE_ADDR": "10.0.0.2"},
        ).json["ip"]

    assert client_ip(app_config) == "10.0.0.2"
    assert client_ip({**app_config, "TRUSTED_PROXY_COUNT": 1}) == "203.0.113.9"
