"""Real Rasa 3 projects run as they are: `shopkeep test --project DIR` and `shopkeep --project DIR`.

Each project is copied first (nothing in the folder may be changed, and the copy proves it) and run in
a subprocess with a data directory of its own, so the intent model is trained from scratch (~1 minute).
The pass counts are floors: Rasa 3.6.21 itself passes helpdesk-assistant 12/12 and retail-demo 3/9 end
to end (measured); shopkeep must not fall below what it reaches now.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
RASA_PROJECTS = REPO.parent / "shared" / "rasa_projects"
SUBPROCESS_TIMEOUT_S = 180
# project -> (stories at least passed, stories in all)
FLOORS = {"helpdesk-assistant": (12, 12), "retail-demo": (9, 9)}  # measured; Rasa 3.6.21: 12/12 and 3/9
SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed$")

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not RASA_PROJECTS.is_dir(), reason=f"{RASA_PROJECTS} is not here"),
]


def shopkeep(args: list[str], data_dir: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("ACTION_ENDPOINT", "SHOPKEEP_CONFIG")}
    env["SHOPKEEP_DATA_DIR"] = str(data_dir)
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=SUBPROCESS_TIMEOUT_S)


def copy_project(name: str, into: Path) -> Path:
    copy = into / name
    shutil.copytree(RASA_PROJECTS / name, copy)
    return copy


@pytest.fixture(scope="module", params=sorted(FLOORS))
def tested(request, tmp_path_factory):
    """(project name, the finished `shopkeep test` process, its results file's lines, the copy it ran on)."""
    name = request.param
    work = tmp_path_factory.mktemp(name)
    project = copy_project(name, work)
    out = work / "r.jsonl"
    done = shopkeep(["test", "--project", str(project), "--out", str(out)], work / "data")
    assert done.returncode in (0, 1), done.stderr[-3000:]
    lines = out.read_text(encoding="utf-8").splitlines()
    return name, done, lines, project


def test_the_last_line_is_the_summary(tested):
    _, done, lines, _ = tested
    last = done.stdout.strip().splitlines()[-1]
    match = SUMMARY.match(last)
    assert match, last
    passed, failed = int(match[1]), int(match[2])
    assert passed + failed == len(lines)


def test_one_json_line_per_story_with_exactly_its_three_keys(tested):
    _, _, lines, _ = tested
    assert lines
    for line in lines:
        result = json.loads(line)
        assert set(result) == {"story", "passed", "first_difference"}
        assert isinstance(result["story"], str) and result["story"]
        assert isinstance(result["passed"], bool)
        if result["passed"]:
            assert result["first_difference"] is None
        else:
            assert isinstance(result["first_difference"], str) and result["first_difference"].startswith("step ")


def test_the_exit_status_says_whether_every_story_passed(tested):
    _, done, lines, _ = tested
    results = [json.loads(line) for line in lines]
    everything = all(r["passed"] for r in results)
    assert done.returncode == (0 if everything else 1)
    passed = sum(r["passed"] for r in results)
    assert done.stdout.strip().splitlines()[-1] == f"{passed} passed, {len(results) - passed} failed"


def test_the_stories_pass_at_least_as_measured(tested):
    name, _, lines, _ = tested
    results = [json.loads(line) for line in lines]
    at_least, total = FLOORS[name]
    passed = sum(r["passed"] for r in results)
    failures = [f"{r['story']}: {r['first_difference']}" for r in results if not r["passed"]]
    assert len(results) == total
    assert passed >= at_least, "\n".join(failures)


def test_the_test_run_says_what_it_loaded_and_ignored(tested):
    _, done, _, _ = tested
    assert re.search(r"^shopkeep: config\.yml: ", done.stdout, re.M), done.stdout[:2000]
    assert re.search(r"^shopkeep: action server: ", done.stdout, re.M)
    assert re.search(r"^action server: .*predicted, not run", done.stdout, re.M)


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_a_project_run_says_what_it_loaded_and_ignored(name, tmp_path):
    project = copy_project(name, tmp_path)
    done = shopkeep(["--project", str(project), "channels"], tmp_path / "data")
    assert done.returncode == 0, done.stderr[-3000:]
    notes = [line for line in done.stdout.splitlines() if line.startswith("shopkeep: ")]
    assert any(line.startswith(f"shopkeep: project {project}: domain domain.yml") for line in notes), notes
    assert any(line.startswith("shopkeep: config.yml: ") and "ignoring" in line for line in notes), notes
    assert any(line.startswith("shopkeep: action server: ") for line in notes), notes
    assert any(line.startswith("shopkeep: knowledge: ") for line in notes), notes


def files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_the_project_folder_is_left_as_it_was(tested):
    name, _, _, project = tested
    assert files(project) == files(RASA_PROJECTS / name)


# -- a project laid out differently --------------------------------------------------------

SPLIT_PROJECT = {
    "domain/core.yml": """
        version: "3.1"
        intents:
        - greet
        - goodbye
        responses:
          utter_greet:
          - text: Hello!
        """,
    "domain/more/orders.yml": """
        version: "3.1"
        intents:
        - order
        responses:
          utter_goodbye:
          - text: Bye!
          utter_order:
          - text: What would you like?
        session_config:
          session_expiration_time: 60
          carry_over_slots_to_new_session: true
        """,
    "data/language/examples.yml": """
        version: "3.1"
        nlu:
        - intent: greet
          examples: |
            - hello
            - hi
            - hey there
            - good morning
            - hello bot
            - hi, anyone here?
        - intent: goodbye
          examples: |
            - bye
            - goodbye
            - see you later
            - bye bye
            - have a nice day
            - that's all, bye
        - intent: order
          examples: |
            - I want to order
            - can I buy something
            - I'd like to place an order
            - order please
            - I want to buy a shirt
            - let me order a pair of shoes
        """,
    "data/conversations/how_we_talk.yml": """
        version: "3.1"
        rules:
        - rule: greet
          steps:
          - intent: greet
          - action: utter_greet
        - rule: goodbye
          steps:
          - intent: goodbye
          - action: utter_goodbye
        stories:
        - story: order
          steps:
          - intent: order
          - action: utter_order
        """,
    "config.yml": """
        language: en
        pipeline:
        - name: WhitespaceTokenizer
        - name: DIETClassifier
        policies:
        - name: MemoizationPolicy
        - name: RulePolicy
        """,
    "tests/stories_to_check.yml": """
        stories:
        - story: hello, order, bye
          steps:
          - user: |
              hello
            intent: greet
          - action: utter_greet
          - user: |
              I want to order
            intent: order
          - action: utter_order
          - user: |
              bye
            intent: goodbye
          - action: utter_goodbye
        """,
}


def write_project(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return root


def test_a_project_with_a_domain_folder_and_data_in_subfolders_loads(tmp_path):
    project = write_project(tmp_path / "split", SPLIT_PROJECT)
    out = tmp_path / "r.jsonl"
    done = shopkeep(["test", "--project", str(project), "--out", str(out)], tmp_path / "data")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"shopkeep: project {project}: domain domain/" in done.stdout
    assert "'data/conversations/how_we_talk.yml', 'data/language/examples.yml'" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "1 passed, 0 failed"
    assert [json.loads(line) for line in out.read_text().splitlines()] == [
        {"story": "hello, order, bye", "passed": True, "first_difference": None}]


def test_without_an_action_server_the_projects_own_actions_run(tmp_path):
    """No endpoints.yml and no ACTION_ENDPOINT: the project's actions/ package runs in process, never
    shopkeep's own demo actions of the same names (a subprocess: the import must not touch this one)."""
    project = copy_project("retail-demo", tmp_path)
    (project / "endpoints.yml").unlink()
    script = (
        "import os, sys\n"
        "from bot.config import load_config\n"
        "from bot.rasa_project import apply_project\n"
        "from bot.dialogue.custom_actions import InProcessActions\n"
        f"config, notes = apply_project(load_config(None, dict(os.environ)), {str(project)!r}, dict(os.environ))\n"
        "actions = InProcessActions(config.actions.package, config.actions.root)\n"
        "print(actions.has('action_give_name'), actions.has('validate_order_status_form'))\n")
    env = {k: v for k, v in os.environ.items() if k != "ACTION_ENDPOINT"}
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=SUBPROCESS_TIMEOUT_S)
    assert done.stdout.split()[-2:] == ["True", "False"], done.stderr[-2000:]


@pytest.mark.parametrize("broken, where", [
    ("domain.yml", "domain.yml:"),
    ("data/rules.yml", "rules.yml:"),
    ("data/nlu.yml", "nlu.yml:"),
])
def test_a_broken_project_file_is_one_clear_error(tmp_path, broken, where):
    project = copy_project("helpdesk-assistant", tmp_path)
    (project / broken).chmod(0o644)
    (project / broken).write_text("version: '3.1'\nitems:\n bad: [\n")
    for command in (["--project", str(project), "run", "--port", "8097"], ["test", "--project", str(project)]):
        done = shopkeep(command, tmp_path / "data")
        assert done.returncode == 2, done.stderr[-2000:]
        assert "Traceback" not in done.stderr and where in done.stderr


def test_a_broken_test_stories_file_is_one_clear_error_not_a_failed_story(tmp_path):
    project = copy_project("helpdesk-assistant", tmp_path)
    stories = project / "tests" / "test_conversations.yml"
    stories.chmod(0o644)
    stories.write_text("stories:\n- story: x\n  steps: [\n")
    done = shopkeep(["test", "--project", str(project)], tmp_path / "data")
    assert done.returncode == 2 and "Traceback" not in done.stderr and "test_conversations.yml:" in done.stderr
