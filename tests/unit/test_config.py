"""Configuration comes only from the environment, and production refuses unsafe settings."""

import logging

import pytest

from shop import create_app
from shop.config import ConfigError, check_production, from_environment
from shop.extensions import db

SAFE_PRODUCTION = {
    "SHOP_ENV": "production",
    "SECRET_KEY": "a-long-random-production-secret",
    "VOUCHER_KEY": "another-long-random-production-secret",
    "STRIPE_WEBHOOK_SECRET": "whsec_live",
    "DATABASE_URL": "postgresql+psycopg://shop@db/shop",
}


def test_defaults_for_development(tmp_path):
    config = from_environment(str(tmp_path), {})
    assert config["SHOP_ENV"] == "development"
    assert config["SHOP_CURRENCY"] == "GBP"
    assert config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert config["MAX_CONTENT_LENGTH"] == 1024 * 1024


def test_every_documented_variable_is_read(tmp_path):
    env = {
        "DATABASE_URL": "postgresql+psycopg://x/y", "SECRET_KEY": "s", "SHOP_CURRENCY": "eur",
        "STRIPE_SECRET_KEY": "sk_test_1", "STRIPE_PUBLISHABLE_KEY": "pk_test_1",
        "STRIPE_WEBHOOK_SECRET": "whsec_1", "STRIPE_API_BASE": "http://127.0.0.1:8420",
        "REDIS_URL": "redis://127.0.0.1:6379/0", "SMTP_URL": "smtp://127.0.0.1:25",
        "CORS_ORIGINS": "https://a.example, https://b.example",
    }
    config = from_environment(str(tmp_path), env)
    assert config["SQLALCHEMY_DATABASE_URI"] == env["DATABASE_URL"]
    assert config["SHOP_CURRENCY"] == "EUR"
    assert config["STRIPE_API_BASE"] == env["STRIPE_API_BASE"]
    assert config["CORS_ORIGINS"] == ["https://a.example", "https://b.example"]


def test_bad_values_are_refused(tmp_path):
    with pytest.raises(ConfigError):
        from_environment(str(tmp_path), {"SHOP_ENV": "staging"})
    with pytest.raises(ConfigError):
        from_environment(str(tmp_path), {"MAX_CONTENT_LENGTH": "lots"})
    with pytest.raises(ConfigError, match="at least 100"):  # a page must end before the count
        from_environment(str(tmp_path), {"CATALOGUE_TOTAL_LIMIT": "99"})


def test_public_api_url_is_a_base_url(tmp_path, caplog):
    def read(value: str) -> str:
        return from_environment(str(tmp_path), {"PUBLIC_API_URL": value})["PUBLIC_API_URL"]

    assert read("") == ""
    assert read("https://api.clinic.example/") == "https://api.clinic.example"
    for bad in ("api.clinic.example", "ftp://api.clinic.example", "https://a.example/?x=1"):
        with pytest.raises(ConfigError, match="PUBLIC_API_URL"):
            read(bad)
    with caplog.at_level(logging.WARNING, logger="shop.config"):
        check_production(from_environment(str(tmp_path), {
            **SAFE_PRODUCTION, "PUBLIC_API_URL": "http://api.clinic.example"}))
    assert "PUBLIC_API_URL is not https" in caplog.text


@pytest.mark.parametrize("missing", ["SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "VOUCHER_KEY"])
def test_production_refuses_default_or_missing_secrets(tmp_path, missing):
    env = {key: value for key, value in SAFE_PRODUCTION.items() if key != missing}
    with pytest.raises(ConfigError, match=missing):
        check_production(from_environment(str(tmp_path), env))


def test_production_with_safe_settings_starts(tmp_path):
    check_production(from_environment(str(tmp_path), SAFE_PRODUCTION))


def test_production_on_sqlite_warns_loudly(tmp_path, caplog):
    env = {**SAFE_PRODUCTION, "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}
    with caplog.at_level(logging.WARNING, logger="shop.config"):
        check_production(from_environment(str(tmp_path), env))
    assert "SQLITE" in caplog.text


def test_create_app_refuses_unsafe_production(monkeypatch):
    monkeypatch.setenv("SHOP_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigError):
        create_app()


def test_production_logs_are_json_and_send_hsts(app_config, capfd):
    app = create_app({**app_config, **{"SHOP_ENV": "production", "LOG_JSON": True,
                                       "VOUCHER_KEY": "v" * 40, "SECRET_KEY": "s" * 40}})
    response = app.test_client().get("/health")
    assert "max-age" in response.headers["Strict-Transport-Security"]
    logging.getLogger("shop.test").warning("hello structured")
    assert '"message": "hello structured"' in capfd.readouterr().err


def test_database_pool_size_sizes_each_process_pool(tmp_path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://shop@db/shop",
                      "DATABASE_POOL_SIZE": 24})
    with app.app_context():
        assert db.engine.pool.size() == 24  # (no connection is made until one is used)
