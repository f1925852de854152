"""The deployment files stay valid."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose is not installed "
                    "(.ci/run installs it)")
def test_docker_compose_file_validates():
    out = subprocess.run(["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr


def test_compose_runs_the_bot_the_action_server_and_redis_with_aof():
    import yaml

    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert {"bot", "actions", "redis"} <= set(services)
    assert "--appendonly" in services["redis"]["command"]
    assert services["bot"]["environment"]["ACTION_ENDPOINT"].endswith(":5055/webhook")
    assert services["actions"]["command"][:4] == ["python", "-m", "rasa_sdk", "--actions"]


def test_compose_runs_more_than_one_bot_process_against_its_redis():
    import yaml

    bot = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["bot"]
    command = bot["command"]
    assert int(command[command.index("--workers") + 1]) > 1
    assert bot["environment"]["REDIS_URL"].startswith("redis://redis:")
    assert "/health" in " ".join(bot["healthcheck"]["test"])
