"""Rasa projects' own test stories, run by shopkeep: how many pass, and how fast the dialogue decides.

For each project folder: trains (or finds) its intent model, then runs its test stories as
`shopkeep test` does (bot/dialogue/story_test.py) and prints stories passed, the failures (and which
fail only for want of Duckling), and the time per predicted action (the rule and memoization policies,
p50/p95 in ms, measured on the stories' own trackers).

    .venv/bin/python bench/rasa_projects.py ../shared/rasa_projects/retail-demo \
        ../shared/rasa_projects/helpdesk-assistant [--stories-dir tests]

Measured (2 cores; see README "Coming from Rasa"): retail-demo 9/9, helpdesk-assistant 12/12,
RasaHQ/financial-demo 47/48 (the one failure wants Duckling's `time`); Rasa 3.6.21 end to end: 3/9
and 12/12.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.assembly import train_intents  # noqa: E402
from bot.config import load_config  # noqa: E402
from bot.dialogue.domain import Domain  # noqa: E402
from bot.dialogue.engine import Dialogue  # noqa: E402
from bot.dialogue.rules import load_policy  # noqa: E402
from bot.dialogue.stories import block_events, read_dialogue_file  # noqa: E402
from bot.dialogue.story_test import DUCKLING_DIMENSIONS, predict_action, run_test_stories  # noqa: E402
from bot.nlu.rasa_config import read_rasa_config  # noqa: E402
from bot.rasa_project import apply_project  # noqa: E402


def prediction_times(dialogue: Dialogue, files: list[Path]) -> list[float]:
    """Seconds per action prediction over every prefix of the test stories' trackers."""
    times = []
    for file in files:
        for block in read_dialogue_file(file, test=True).stories:
            for events in block_events(block):
                tracker: list[dict] = []
                for event in events:
                    if event["event"] == "action":
                        started = time.perf_counter()
                        predict_action(dialogue, list(tracker), event["name"])
                        times.append(time.perf_counter() - started)
                    tracker.append(event)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("projects", nargs="+", type=Path, help="Rasa project folders")
    parser.add_argument("--stories-dir", default="tests", help="the test stories folder inside each project")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        for root in args.projects:
            env = {**os.environ, "SHOPKEEP_DATA_DIR": str(Path(data_dir) / root.name)}
            config, _ = apply_project(load_config(None, env), root, env)
            domain = Domain.load(config.dialogue.domain)
            dialogue = Dialogue(domain, load_policy(config.dialogue.rules, domain, config.dialogue.max_history),
                                actions=None, answerer=None)
            interpreter = train_intents(config, progress=False)
            stories = root / args.stories_dir
            duckling = set(read_rasa_config(root / "config.yml").duckling_dimensions) & DUCKLING_DIMENSIONS
            results = run_test_stories(dialogue, interpreter.parse, stories, duckling)
            files = sorted(p for p in stories.rglob("*.y*ml"))
            times = np.array(prediction_times(dialogue, files)) * 1000
            passed = sum(r.passed for r in results)
            print(f"{root.name}: {passed}/{len(results)} test stories passed; "
                  f"{sum(1 for r in results if r.needs)} failed only for want of Duckling; "
                  f"prediction p50 {np.percentile(times, 50):.2f} ms, p95 {np.percentile(times, 95):.2f} ms "
                  f"over {len(times)} predictions")
            for result in results:
                if not result.passed:
                    print(f"  FAILED {result.story}: {result.first_difference}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
