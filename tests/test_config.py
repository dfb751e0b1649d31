"""Settings: environment over paperpost.toml over defaults; bad values and secrets fail loudly."""

from __future__ import annotations

import pytest

from bot.config import load_config, require_secret_key
from bot.errors import ConfigError


def test_environment_wins_over_the_file_and_defaults_fill_the_rest(tmp_path):
    toml = tmp_path / "paperpost.toml"
    toml.write_text('PAPERPOST_DIGEST_MAX = 9\nPAPERPOST_MAIL_FROM = "file <f@example.org>"\n')
    config = load_config({"PAPERPOST_DATA": str(tmp_path), "PAPERPOST_MAIL_FROM": "env <e@example.org>"}, toml)
    assert config["PAPERPOST_DIGEST_MAX"] == 9
    assert config["PAPERPOST_MAIL_FROM"] == "env <e@example.org>"
    assert config["PAPERPOST_TRENDING_TOP"] == 10
    assert config.database_url == f"sqlite:///{tmp_path / 'paperpost.db'}"


@pytest.mark.parametrize("given, expected", [
    ("postgres://u:p@db:5432/app", "postgresql+psycopg://u:p@db:5432/app"),
    ("postgresql://u@db/app", "postgresql+psycopg://u@db/app"),
    ("postgresql+psycopg://u@db/app", "postgresql+psycopg://u@db/app"),
    ("sqlite:////var/lib/paperpost/p.db", "sqlite:////var/lib/paperpost/p.db"),
])
def test_platform_database_urls_get_our_driver(tmp_path, given, expected):
    assert load_config({"DATABASE_URL": given, "PAPERPOST_DATA": str(tmp_path)}, tmp_path / "none.toml").database_url == expected


def test_bad_values_and_unknown_file_keys_name_the_setting(tmp_path):
    with pytest.raises(ConfigError, match="PAPERPOST_DIGEST_MAX"):
        load_config({"PAPERPOST_DIGEST_MAX": "lots"}, tmp_path / "none.toml")
    toml = tmp_path / "paperpost.toml"
    toml.write_text("PAPERPOST_TYPO = 1\n")
    with pytest.raises(ConfigError, match="PAPERPOST_TYPO"):
        load_config({}, toml)


def test_secret_key_is_required_for_a_public_base_url_and_generated_once_for_a_local_one(tmp_path):
    public = load_config({"PAPERPOST_BASE_URL": "https://papers.example.org", "PAPERPOST_DATA": str(tmp_path)}, tmp_path / "x")
    with pytest.raises(ConfigError, match="PAPERPOST_SECRET_KEY"):
        require_secret_key(public)
    local = load_config({"PAPERPOST_DATA": str(tmp_path)}, tmp_path / "x")
    key = require_secret_key(local)
    assert len(key) >= 32 and require_secret_key(local) == key
    assert (tmp_path / "secret.key").stat().st_mode & 0o077 == 0


def test_trusted_proxies_and_health_details_are_checked_when_read(tmp_path):
    none = tmp_path / "none.toml"
    config = load_config({"PAPERPOST_DATA": str(tmp_path)}, none)
    assert config["PAPERPOST_TRUSTED_PROXIES"] == () and config["PAPERPOST_HEALTH_DETAILS"] is False
    config = load_config({"PAPERPOST_DATA": str(tmp_path), "PAPERPOST_TRUSTED_PROXIES": " 10.0.0.7/8, ::1 ,",
                          "PAPERPOST_HEALTH_DETAILS": "1"}, none)
    assert config["PAPERPOST_TRUSTED_PROXIES"] == ("10.0.0.0/8", "::1/128") and config["PAPERPOST_HEALTH_DETAILS"]
    for name, value in (("PAPERPOST_TRUSTED_PROXIES", "*"), ("PAPERPOST_TRUSTED_PROXIES", "proxy.local"),
                        ("PAPERPOST_HEALTH_DETAILS", "maybe")):
        with pytest.raises(ConfigError, match=name):
            load_config({"PAPERPOST_DATA": str(tmp_path), name: value}, none)
