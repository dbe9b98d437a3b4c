"""Config rules: documented defaults, strictness, precedence, secrets only from the environment."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from assistant.config import Settings, load_settings
from tools.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def test_config_toml_documents_exactly_the_defaults() -> None:
    assert load_settings(ROOT / "config.toml", environ={}) == Settings()


def test_unknown_key_in_file_is_an_error_naming_it(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[llm]\nprovidr = "openai"\n')
    with pytest.raises(ConfigError, match=r"unknown setting 'llm.providr'"):
        load_settings(config, environ={})


def test_unknown_section_is_an_error(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[engin]\nbackend = 'duckdb'\n")
    with pytest.raises(ConfigError, match="'engin'"):
        load_settings(config, environ={})


def test_invalid_value_names_key_and_value(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[journey]\nwindow = "seven days"\n')
    with pytest.raises(ConfigError, match=r"journey.window.*seven days") as info:
        load_settings(config, environ={})
    assert "Value error" not in str(info.value)  # no pydantic internals in a person's error line


def test_secret_in_file_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[llm]\napi_key = "sk-123"\n')
    with pytest.raises(ConfigError, match="secrets are read only from the environment"):
        load_settings(config, environ={})


def test_precedence_flag_over_env_over_file_over_default(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[journey]\nconversion = "from_file"\nwindow = "3d"\n[llm]\nmodel = "file-model"\n')
    settings = load_settings(
        config,
        overrides={"journey.conversion": "from_flag", "llm.model": None},
        environ={"JOURNEY_JOURNEY_CONVERSION": "from_env", "JOURNEY_LLM_MODEL": "env-model"},
    )
    assert settings.journey.conversion == "from_flag"  # flag beats env and file
    assert settings.llm.model == "env-model"  # env beats file; a None flag is "not given"
    assert settings.journey.window == timedelta(days=3)  # file beats default
    assert settings.attribution.half_life == timedelta(days=7)  # default


def test_environment_lists_and_nested_keys() -> None:
    settings = load_settings(
        None,
        environ={"JOURNEY_JOURNEY_STAGES": "a, b,c", "JOURNEY_DATA_COLUMNS_CUSTOMER_ID": "user"},
    )
    assert settings.journey.stages == ["a", "b", "c"]
    assert settings.data.columns.customer_id == "user"


def test_unknown_environment_variable_is_an_error() -> None:
    with pytest.raises(ConfigError, match="JOURNEY_LLM_PROVIDR"):
        load_settings(None, environ={"JOURNEY_LLM_PROVIDR": "x"})


def test_reserved_environment_variables_are_not_settings() -> None:
    load_settings(None, environ={"JOURNEY_DEBUG": "1"})


def test_api_key_only_from_named_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_KEY", "sk-test")
    settings = load_settings(None, environ={"JOURNEY_LLM_API_KEY_ENV": "MY_KEY"})
    assert settings.api_key() == "sk-test"


def test_bad_timezone_is_rejected() -> None:
    with pytest.raises(ConfigError, match="Mars/Base"):
        load_settings(None, overrides={"data.timezone": "Mars/Base"}, environ={})


def test_missing_explicit_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml", environ={})


def test_invalid_toml(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[llm\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(config, environ={})
