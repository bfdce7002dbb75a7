"""The README documents every setting the shop reads from the environment."""

from pathlib import Path

from shop.config import from_environment

README = Path(__file__).resolve().parents[2] / "README.md"
RENAMED = {"SQLALCHEMY_DATABASE_URI": "DATABASE_URL"}


def test_every_setting_is_documented(tmp_path):
    text = README.read_text(encoding="utf-8")
    settings = [RENAMED.get(key, key) for key in from_environment(str(tmp_path), {})]
    missing = [name for name in settings if f"`{name}`" not in text]
    assert missing == []


def test_readme_shows_the_two_commands():
    text = README.read_text(encoding="utf-8")
    assert "make run" in text and "make test" in text
