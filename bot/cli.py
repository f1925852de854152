"""The `shopkeep` command."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from dataclasses import replace
from logging.handlers import RotatingFileHandler

from bot.config import ConfigError, load_config
from bot.console.cli import add_console_commands
from bot.dialogue.domain import DomainError
from bot.dialogue.stories import StoriesError
from bot.nlu.cli import NLU_ERRORS, add_nlu_commands
from bot.nlu.training_data import TrainingDataError
from bot.sessions.embedded_redis import EmbeddedRedisError
from knowledge.cli import add_knowledge_commands
from knowledge.documents import KnowledgeError
from knowledge.recommend_cli import add_recommend_commands
from knowledge.reviews_cli import add_review_commands
from lm.sentiment import SentimentError

# A store's or Rasa project's files that cannot be used: one line naming the file (and line), no traceback.
PROJECT_ERRORS = (DomainError, StoriesError, TrainingDataError)


def _setup_logging(config, verbose: bool) -> None:
    logs = config.data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    handlers = [logging.StreamHandler(), RotatingFileHandler(logs / "shopkeep.log", maxBytes=10 << 20, backupCount=3)]
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=handlers,
                        format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s")


def default_workers() -> int:
    """One server process per CPU core this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def check_files(config):
    """Read the domain, the rules and stories and the NLU data now (cheap), so that a broken file is one
    clear error naming it, before any model loads or the server starts. Returns (domain, policy).
    Raises DomainError, RulesError or TrainingDataError."""
    from bot.dialogue.domain import Domain
    from bot.dialogue.rules import load_policy
    from bot.nlu.training_data import load_training_data

    domain = Domain.load(config.dialogue.domain)
    policy = load_policy(config.dialogue.rules, domain, config.dialogue.max_history)
    load_training_data(config.nlu.data, strict=config.nlu.strict)
    return domain, policy


def cmd_run(args: argparse.Namespace, config) -> int:
    check_files(config)
    server = replace(config.server, host=args.host or config.server.host, port=args.port or config.server.port)
    workers = args.workers if args.workers is not None else config.server.workers or default_workers()
    if workers < 1:
        print("shopkeep: --workers must be at least 1", file=sys.stderr)
        return 2
    config = replace(config, server=replace(server, workers=workers))
    print(f"shopkeep: serving {config.store_name} on http://{server.host}:{server.port} with {workers} "
          f"worker process{'es' if workers > 1 else ''} (data in {config.data_dir})", flush=True)
    if workers > 1:
        from bot.workers import serve

        serve(config, workers)
        return 0
    from aiohttp import web

    from bot.server import AccessLog, init_app

    web.run_app(init_app(config), host=server.host, port=server.port, print=None, access_log_class=AccessLog)
    return 0


def cmd_prepare(args: argparse.Namespace, config) -> int:
    from bot.assembly import load_models

    check_files(config)
    models = load_models(config)
    print(f"intent model ready: {len(models.interpreter.intents)} intents")
    print(f"knowledge ready: {len(models.answerer.retriever.passages)} passages")
    print(f"language model: {models.lm_status}")
    return 0


def cmd_channels(args: argparse.Namespace, config) -> int:
    from bot.channels.messaging import PLATFORMS, webhook_path
    from bot.config import PLATFORM_ENV

    base = (args.url or config.server.public_url or "").rstrip("/")
    shown = base or "<public URL>"
    print(f"Channels of {config.store_name} (public URL: {base or 'not set; use --url or server.public_url'}):")
    widget = config.channels.widget
    rows = [("rest", "on", f"{shown}/webhooks/rest/webhook"),
            ("widget", "on" if widget.enabled else "off", f'<script src="{shown}/widget.js" defer></script>'),
            ("socketio", "on" if widget.enabled and widget.socketio else "off", f"{shown}/socket.io")]
    for platform in PLATFORMS:
        variables = PLATFORM_ENV[platform.credentials][1].values()
        if getattr(config.platforms, platform.credentials) is not None:
            rows.append((platform.name, "on", f"{shown}{webhook_path(platform)}"))
        else:
            rows.append((platform.name, "off", "set " + ", ".join(variables)))
    for name, state, where in rows:
        print(f"  {name:<10} {state:<4} {where}")
    if not args.set_telegram_webhook:
        return 0
    credentials = config.platforms.telegram
    if credentials is None:
        print("shopkeep: Telegram is not enabled: set SHOPKEEP_TELEGRAM_TOKEN and SHOPKEEP_TELEGRAM_SECRET",
              file=sys.stderr)
        return 2
    if not base.startswith("https://"):
        print(f"shopkeep: Telegram sends updates only to an https:// address, and the bot's public address is "
              f"{base or 'not set'}: pass --url https://..., or set SHOPKEEP_PUBLIC_URL or server.public_url",
              file=sys.stderr)
        return 2
    return asyncio.run(_set_telegram_webhook(credentials, f"{base}/webhooks/telegram"))


async def _set_telegram_webhook(credentials, url: str) -> int:
    import aiohttp

    from bot.channels.telegram import set_webhook, webhook_info
    from bot.channels.webhooks import ApiClient, SendFailed

    async with aiohttp.ClientSession() as session:
        api = ApiClient(session, attempts=3, max_wait_s=10)
        try:
            print(f"telegram: {await set_webhook(api, credentials, url)}: {url}")
            info = await webhook_info(api, credentials)
        except SendFailed as exc:
            print(f"shopkeep: Telegram refused setWebhook: {exc}", file=sys.stderr)
            return 1
    print(f"telegram: pending updates {info.get('pending_update_count', 0)}"
          + (f"; last error: {info['last_error_message']}" if info.get("last_error_message") else ""))
    return 0


def cmd_test(args: argparse.Namespace, config) -> int:
    """Run test stories; the last line printed is "N passed, M failed" (see bot/dialogue/story_test.py)."""
    import json
    from pathlib import Path

    from bot.assembly import train_intents
    from bot.dialogue.engine import Dialogue
    from bot.dialogue.story_test import DUCKLING_DIMENSIONS, run_test_stories, story_files

    stories = Path(args.stories) if args.stories else (Path(args.project) / "tests" if args.project else None)
    if stories is None or not stories.exists():
        print(f"shopkeep: no test stories at {stories or '(none given)'}: pass --stories FILE or --project DIR "
              "with a tests/ folder", file=sys.stderr)
        return 2
    if not story_files(stories):
        print(f"shopkeep: {stories}: no YAML file with 'stories:' there", file=sys.stderr)
        return 2
    dialogue = Dialogue(*check_files(config), actions=None, answerer=None)
    print(f"action server: {config.actions.endpoint or 'none'} (actions are predicted, not run, as in rasa test)")
    interpreter = train_intents(config, progress=True)
    duckling = set()
    if args.project:
        from bot.nlu.rasa_config import read_rasa_config

        duckling = set(read_rasa_config(Path(args.project) / "config.yml").duckling_dimensions) & DUCKLING_DIMENSIONS
    results = run_test_stories(dialogue, interpreter.parse, stories, duckling)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as out:
            for result in results:
                out.write(json.dumps(result.as_dict(), ensure_ascii=False) + "\n")
    for result in results:
        print(f"{'passed' if result.passed else 'FAILED'}  {result.story}"
              + (f": {result.first_difference}" if result.first_difference else ""))
    needing = [r for r in results if r.needs]
    if needing:
        print(f"{len(needing)} failed only for want of {needing[0].needs}: " + ", ".join(r.story for r in needing))
    passed = sum(r.passed for r in results)
    print(f"{passed} passed, {len(results) - passed} failed")
    return 0 if passed == len(results) else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="shopkeep",
        description="A self-hosted AI customer-service agent for online stores.",
        epilog="Settings come from the config file (default: the demo store's) and the environment: "
               "SHOPKEEP_DATA_DIR, REDIS_URL, ACTION_ENDPOINT, SHOPKEEP_LM_MODEL, SHOPKEEP_PUBLIC_URL, and "
               "the messaging platforms' secrets (see `shopkeep channels --help`). See README.md.",
    )
    parser.add_argument("--config", help="YAML config file (default: $SHOPKEEP_CONFIG or the demo store's)")
    parser.add_argument("--project", metavar="DIR",
                        help="run a Rasa 3.x project folder as it is (domain.yml or domain/, data/, config.yml, "
                             "endpoints.yml, credentials.yml); without a COMMAND, `run`")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="serve the bot over HTTP",
                         description="Serve the bot: REST channel at /webhooks/rest/webhook, health at /health. "
                                     "Trains the intent model and indexes the knowledge first if they changed; "
                                     "starts an embedded Redis unless REDIS_URL is set.")
    run.add_argument("--host", help="address to listen on (default from config: 0.0.0.0)")
    run.add_argument("--port", type=int, help="port to listen on (default from config: 8080)")
    run.add_argument("--workers", type=int, metavar="N",
                     help="server processes sharing the port and the Redis (default from config, else one "
                          "per CPU core); models are loaded once and shared")
    run.set_defaults(func=cmd_run)

    prepare = sub.add_parser("prepare", help="train the intent model, index the knowledge, join model files",
                             description="Do all model work ahead of `run`, so the first start is fast. "
                                         "Skips whatever is already up to date.")
    prepare.set_defaults(func=cmd_prepare)

    channels = sub.add_parser(
        "channels", help="list the channels, their webhook URLs, and connect Telegram",
        description="List the channels: the website widget and Rasa's REST and socket.io channels, and the "
                    "messaging platforms, each enabled when its secrets are set in the environment "
                    "(SHOPKEEP_TELEGRAM_*, SHOPKEEP_META_*, SHOPKEEP_SLACK_*, SHOPKEEP_TWILIO_*). Give each "
                    "platform the webhook URL shown here.")
    channels.add_argument("--url", help="the bot's public address, e.g. https://bot.your-store.example "
                                        "(default: server.public_url or $SHOPKEEP_PUBLIC_URL)")
    channels.add_argument("--set-telegram-webhook", action="store_true",
                          help="tell Telegram to send updates to <url>/webhooks/telegram with the secret "
                               "(setWebhook), then show its webhook status")
    channels.set_defaults(func=cmd_channels)

    test = sub.add_parser(
        "test", help="run Rasa test stories against the bot",
        description="Walk each test story (Rasa's format: `user:` lines with their intents and entities, then "
                    "the expected actions), comparing the intent model's parse and the predicted actions with "
                    "the story, as `rasa test` does. Prints one line per story and, last, 'N passed, M failed'. "
                    "Exit status 1 when a story fails.")
    test.add_argument("--project", dest="test_project", metavar="DIR",
                      help="the Rasa project folder (as the global --project)")
    test.add_argument("--stories", metavar="FILE", help="a test stories file or folder (default: the project's tests/)")
    test.add_argument("--out", metavar="RESULTS.jsonl",
                      help='write one JSON line per story: {"story", "passed", "first_difference"}')
    test.set_defaults(func=cmd_test)

    add_nlu_commands(sub)
    add_knowledge_commands(sub)
    add_recommend_commands(sub)
    add_review_commands(sub)
    add_console_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "test_project", None):
        args.project = args.test_project
    if args.command is None:
        if not args.project:
            parser.error("a COMMAND is required (or --project DIR, which runs that project)")
        args = parser.parse_args([*(argv if argv is not None else sys.argv[1:]), "run"])
    if args.command == "nlu":  # stands alone: no store config needed
        logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                            format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s")
        try:
            return args.func(args)
        except NLU_ERRORS as exc:
            print(f"shopkeep nlu: {exc}", file=sys.stderr)
            return 2
    try:
        config = load_config(args.config)
        if args.project:
            from bot.rasa_project import apply_project

            config, notes = apply_project(config, args.project, dict(os.environ))
            for note in notes:
                print(f"shopkeep: {note}", flush=True)
    except ConfigError as exc:
        print(f"shopkeep: {exc}", file=sys.stderr)
        return 2
    _setup_logging(config, args.verbose)
    try:
        return args.func(args, config)
    except (KnowledgeError, SentimentError, EmbeddedRedisError, OSError, *PROJECT_ERRORS) as exc:
        # a bad knowledge file, a missing sentiment model, a data directory another shopkeep
        # is using, a port in use, a missing file
        print(f"shopkeep: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # a clear one-line error for store owners; the log has the traceback
        logging.getLogger("shopkeep").exception("failed")
        print(f"shopkeep: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
