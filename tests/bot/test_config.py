"""Configuration from the YAML file and the environment."""

import re

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


def test_a_platform_is_enabled_when_all_its_secrets_are_set():
    config = load_config(env={"SHOPKEEP_TELEGRAM_TOKEN": "123:abc", "SHOPKEEP_TELEGRAM_SECRET": "s-1",
                              "SHOPKEEP_SLACK_SIGNING_SECRET": "x", "SHOPKEEP_SLACK_BOT_TOKEN": "xoxb-1",
                              "SHOPKEEP_SLACK_API_URL": "http://127.0.0.1:9/api/"})
    platforms = config.platforms
    assert platforms.telegram.token == "123:abc" and platforms.telegram.api_url == "https://api.telegram.org"
    assert platforms.slack.api_url == "http://127.0.0.1:9/api"
    assert platforms.meta is None and platforms.twilio is None
    assert "123:abc" not in repr(config) and "xoxb-1" not in repr(config)  # secrets stay out of logs
    assert load_config(env={}).platforms.telegram is None


@pytest.mark.parametrize("env, fragment", [
    ({"SHOPKEEP_TELEGRAM_TOKEN": "123:abc"}, "SHOPKEEP_TELEGRAM_SECRET is not"),
    ({"SHOPKEEP_META_APP_SECRET": "a", "SHOPKEEP_META_ACCESS_TOKEN": "t"}, "SHOPKEEP_META_VERIFY_TOKEN is not"),
    ({"SHOPKEEP_META_VERIFY_TOKEN": "v"}, "SHOPKEEP_META_APP_SECRET and SHOPKEEP_META_ACCESS_TOKEN are not"),
    ({"SHOPKEEP_SLACK_BOT_TOKEN": "xoxb"}, "SHOPKEEP_SLACK_SIGNING_SECRET is not"),
    ({"SHOPKEEP_TWILIO_ACCOUNT_SID": "AC1"}, "SHOPKEEP_TWILIO_AUTH_TOKEN is not"),
    ({"SHOPKEEP_TELEGRAM_TOKEN": "1:a", "SHOPKEEP_TELEGRAM_SECRET": "has spaces"}, "1-256 characters of A-Z"),
    ({"SHOPKEEP_TWILIO_ACCOUNT_SID": "AC1", "SHOPKEEP_TWILIO_AUTH_TOKEN": "t", "SHOPKEEP_TWILIO_API_URL": "ftp://x"},
     "SHOPKEEP_TWILIO_API_URL must be an http(s) URL"),
    ({"SHOPKEEP_PUBLIC_URL": "bot.example.com"}, "'server.public_url' must be an http(s) URL"),
    ({"SHOPKEEP_SLACK_API_URL": "http://127.0.0.1:9"}, "SHOPKEEP_SLACK_API_URL is set but Slack is not on"),
    ({"SHOPKEEP_META_PAGE_TOKEN": "EAAP"}, "SHOPKEEP_META_PAGE_TOKEN is set but Meta is not on"),
])
def test_a_secret_without_its_partner_stops_the_start_naming_the_missing_variable(env, fragment):
    with pytest.raises(ConfigError, match=re.escape(fragment)):
        load_config(env=env)


def test_the_public_url_comes_from_the_file_or_the_environment(tmp_path):
    path = tmp_path / "shopkeep.yml"
    path.write_text("server:\n  public_url: https://bot.shop.example/\n")
    assert load_config(path, env={}).server.public_url == "https://bot.shop.example"
    assert load_config(path, env={"SHOPKEEP_PUBLIC_URL": "https://b.example"}).server.public_url == "https://b.example"
