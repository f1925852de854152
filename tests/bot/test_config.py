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
    ("channels: [widget]\n", "section 'channels' must be a mapping"),
    ("channels: {whatsap: {}}\n", "unknown channel(s) in 'channels': whatsap"),
    ("channels: {widget: {alowed_origins: []}}\n", "unknown setting(s) in 'channels.widget': alowed_origins"),
    ("channels: {widget: {allowed_origins: [3]}}\n", "'channels.widget.allowed_origins' must be a string or a list"),
    ("channels: {widget: {rate_limit_ip: lots}}\n", "'channels.widget.rate_limit_ip' must be like"),
    ("channels: {widget: {max_frame_bytes: 10}}\n", "'channels.widget.max_frame_bytes' must be at least 256"),
    ("channels: {widget: {token_max_age_days: 0}}\n", "'channels.widget.token_max_age_days' must be more than 0"),
    ("channels: {widget: {allowed_origins: [\"localhost:9001\"]}}\n", "'localhost:9001' is not an origin"),
    ("channels: {widget: {allowed_origins: [\"http://*.example.com\"]}}\n", "is not an origin"),
    ("server: {trusted_proxies: [\"proxy.local\"]}\n", "'proxy.local' is not an IP address"),
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


def test_channels_section_is_read(tmp_path):
    path = tmp_path / "shopkeep.yml"
    path.write_text("channels:\n  widget:\n    allowed_origins: https://shop.example\n    socketio: false\n")
    widget = load_config(path, env={}).channels.widget
    assert widget.allowed_origins == ("https://shop.example",) and widget.socketio is False
    assert widget.rate_limit_conversation == "10/10 seconds"


def test_secret_key_comes_from_the_environment_or_one_kept_file(tmp_path):
    import stat

    from bot.config import secret_key

    config = load_config(env={"SHOPKEEP_DATA_DIR": str(tmp_path)})
    assert secret_key(config, env={"SHOPKEEP_SECRET_KEY": "s3cret"}) == b"s3cret"
    first = secret_key(config, env={})
    assert len(first) == 64 and secret_key(config, env={}) == first  # made once, then kept
    assert stat.S_IMODE((tmp_path / "secret_key").stat().st_mode) == 0o600
    (tmp_path / "secret_key").write_text("")
    with pytest.raises(ConfigError, match="is empty"):
        secret_key(config, env={})
