"""Configuration from the YAML file and the environment."""

import pytest

from bot.config import DEMO_CONFIG, ConfigError, load_config


def test_demo_config_resolves_paths_against_its_folder():
    config = load_config(env={})
    assert config.source == DEMO_CONFIG.resolve()
    assert config.nlu.data == DEMO_CONFIG.parent / "nlu.yml"
    assert [p.name for p in config.knowledge.sources] == ["faq.json", "products.json"]
    assert all(p.exists() for p in config.knowledge.sources)
    assert config.server.port == 8080 and config.sessions.redis_url is None
    assert config.data_dir.name == "data"


def test_environment_overrides_deployment_choices(tmp_path):
    config = load_config(env={"SHOPKEEP_DATA_DIR": str(tmp_path), "REDIS_URL": "redis://r:6379/1",
                              "ACTION_ENDPOINT": "http://actions:5055/webhook",
                              "SHOPKEEP_LM_MODEL": "packaged:smollm2-135m"})
    assert config.data_dir == tmp_path
    assert config.sessions.redis_url == "redis://r:6379/1"
    assert config.actions.endpoint == "http://actions:5055/webhook"
    assert config.lm.model == "packaged:smollm2-135m"


@pytest.mark.parametrize("text, fragment", [
    ("server: [1, 2]\n", "section 'server' must be a mapping"),
    ("server:\n  port: eighty\n", "'server.port' must be a number"),
    ("server:\n  prot: 80\n", "unknown setting(s) in 'server': prot"),
    ("servers: {}\n", "unknown section(s): servers"),
    ("server: {port: [\n", "invalid YAML"),
    ("sessions: {pool_size: 0}\n", "'sessions.pool_size' must be at least 1"),
    ("sessions: {command_timeout_s: 0}\n", "'sessions.command_timeout_s' must be more than 0"),
    ("sessions: {lock_lease_s: -1}\n", "'sessions.lock_lease_s' must be more than 0"),
    ("server: {workers: 0}\n", "'server.workers' must be at least 1"),
    ("server: {workers: two}\n", "'server.workers' must be a number"),
])
def test_bad_files_get_clear_errors(tmp_path, text, fragment):
    path = tmp_path / "shopkeep.yml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    assert fragment in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "none.yml", env={})


def test_flags_must_be_booleans(tmp_path):
    path = tmp_path / "shopkeep.yml"
    path.write_text("nlu:\n  finetune: sometimes\n")
    with pytest.raises(ConfigError, match="'nlu.finetune' must be true or false"):
        load_config(path, env={})


def test_workers_and_pool_settings_are_read(tmp_path):
    path = tmp_path / "shopkeep.yml"
    path.write_text("server: {workers: 3}\nsessions: {pool_size: 8, pool_timeout_s: 1.5}\n")
    config = load_config(path, env={})
    assert config.server.workers == 3 and config.sessions.pool_size == 8 and config.sessions.pool_timeout_s == 1.5
