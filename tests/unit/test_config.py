"""Settings precedence: defaults < config file < environment < flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalrefine.config import DEFAULT_SENTENCES, load_settings
from evalrefine.errors import ConfigError


def test_defaults() -> None:
    s = load_settings()
    assert s.model.name == "embedded"
    assert tuple(s.monitor.sentences) == DEFAULT_SENTENCES
    assert s.monitor.cot_opener is None


def test_file_then_env_then_init(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text('[model]\nname = "from-file"\ndevice = "cpu"\n[monitor]\nsentences = ["A test"]\n')
    monkeypatch.setenv("EVALREFINE_CONFIG", str(cfg))
    s = load_settings()
    assert (s.model.name, s.model.device, s.monitor.sentences) == ("from-file", "cpu", ["A test"])
    monkeypatch.setenv("EVALREFINE_MODEL__NAME", "from-env")
    s = load_settings()
    assert (s.model.name, s.model.device) == ("from-env", "cpu")
    s = load_settings(model={"name": "from-flag"})
    assert (s.model.name, s.model.device) == ("from-flag", "cpu")


def test_invalid_values_are_config_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVALREFINE_MODEL__DEVICE", "tpu")
    with pytest.raises(ConfigError, match=r"model\.device"):
        load_settings()


def test_broken_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text("[model\nname=")
    monkeypatch.setenv("EVALREFINE_CONFIG", str(cfg))
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings()


def test_empty_sentence_refused() -> None:
    with pytest.raises(ConfigError, match="sentences"):
        load_settings(monitor={"sentences": [""]})


def test_project_config_from_pyproject_or_evalrefine_toml(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from evalrefine.config import load_settings, project_config_file

    repo = tmp_path / "repo"
    (repo / "evals" / "sub").mkdir(parents=True)
    (repo / "pyproject.toml").write_text('[project]\nname = "x"\n[tool.evalrefine.lint]\nthreshold = "-22"\n')
    monkeypatch.chdir(repo / "evals" / "sub")
    assert project_config_file() == repo / "pyproject.toml"
    settings = load_settings()
    assert settings.lint.threshold == "-22" and settings.lint.batch_size == 16
    monkeypatch.setenv("EVALREFINE_LINT__THRESHOLD", "80")  # the environment beats the project file
    assert load_settings().lint.threshold == "80"
    monkeypatch.delenv("EVALREFINE_LINT__THRESHOLD")
    (repo / "evals" / "evalrefine.toml").write_text('[lint]\nexclude = ["scratch"]\n')  # nearer wins
    assert project_config_file() == repo / "evals" / "evalrefine.toml"
    assert load_settings().lint.exclude == ("scratch",) and load_settings().lint.threshold == "90"
    (repo / "evals" / "evalrefine.toml").write_text("[lint]\nbatch_size = 0\n")
    import pytest

    from evalrefine.errors import ConfigError

    with pytest.raises(ConfigError, match=r"evalrefine\.toml"):
        load_settings()
