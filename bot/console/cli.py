"""`shopkeep agents ...` (who may use the console) and `shopkeep conversations ...`
(a shopper's data: export, delete).

Both work on the bot's Redis: REDIS_URL when set; otherwise the embedded Redis
of the running bot (same data directory), or, when the bot is not running, the
embedded Redis started just for the command.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import sys
from contextlib import asynccontextmanager

from bot.console.agents import ADMIN, AGENT, ROLES, AgentError, AgentStore
from bot.sessions.embedded_redis import EmbeddedRedis, running_url
from bot.sessions.redis_client import SessionStoreUnavailable, connect


@asynccontextmanager
async def bot_redis(config):
    """A Redis client on the bot's sessions store (see the module's docstring)."""
    url, embedded = config.sessions.redis_url, None
    if not url:
        url = running_url(config.data_dir / "redis")
    if not url:
        embedded = EmbeddedRedis(config.data_dir / "redis")
        url = await asyncio.to_thread(embedded.start)
    client = connect(url, 2, 5, 5)
    try:
        yield client
    finally:
        await client.aclose()
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)


def _password(args) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password (at least 10 characters): ")
    if getpass.getpass("Password again: ") != first:
        raise AgentError("the two passwords differ")
    return first


async def _agents(args, config) -> int:
    async with bot_redis(config) as client:
        store = AgentStore(client, config.sessions.key_prefix)
        if args.action == "list":
            agents = await store.list()
            if not agents:
                print("no agents yet: add one with `shopkeep agents add NAME --role admin`")
            for agent in agents:
                print(f"{agent.name:<24} {agent.role}")
        elif args.action == "add":
            store.check(args.name, role=args.role)  # before asking for a password
            agent = await store.add(args.name, _password(args), args.role)
            print(f"added {agent.name} ({agent.role}); they log in at /console")
        elif args.action == "passwd":
            if await store.get(args.name) is None:
                raise AgentError(f"no agent called {args.name}")
            await store.set_password(args.name, _password(args))
            print(f"new password set for {args.name}; their open sessions have ended")
        elif args.action == "role":
            await store.set_role(args.name, args.role)
            print(f"{args.name} is now {args.role}")
        elif args.action == "remove":
            if not await store.remove(args.name):
                raise AgentError(f"no agent called {args.name}")
            print(f"removed {args.name}; their open sessions have ended")
    return 0


async def _conversations(args, config) -> int:
    from bot.console.desk import HandoffDesk

    async with bot_redis(config) as client:
        desk = HandoffDesk.from_config(client, config)
        if args.action == "list":
            for found in await desk.search(sender=args.sender or "", limit=args.limit):
                print(f"{found['id']:<40} {found['channel'] or '-':<10} {found['lang'] or '-':<3} "
                      f"{(found.get('handoff') or {}).get('status', '-')}")
        elif args.action == "export":
            document = await desk.export(args.sender)
            if document is None:
                print(f"shopkeep: no conversation {args.sender}", file=sys.stderr)
                return 1
            text = json.dumps(document, ensure_ascii=False, indent=2)
            if args.out:
                with open(args.out, "w", encoding="utf-8") as out:
                    out.write(text + "\n")
                print(f"wrote {args.out}")
            else:
                print(text)
        elif args.action == "delete":
            if not args.yes and input(f"Delete everything kept about {args.sender}? [y/N] ").strip().lower() != "y":
                print("nothing deleted")
                return 1
            deleted = await desk.delete(args.sender)
            print(f"deleted {deleted} record(s) of {args.sender}" if deleted else f"nothing kept about {args.sender}")
    return 0


def _run(command, args, config, name: str) -> int:
    """Run an async command; its errors as one line: 2 for bad input, 1 when Redis fails."""
    try:
        return asyncio.run(command(args, config))
    except AgentError as exc:
        print(f"shopkeep {name}: {exc}", file=sys.stderr)
        return 2
    except SessionStoreUnavailable as exc:
        print(f"shopkeep {name}: {exc}", file=sys.stderr)
        return 1


def cmd_agents(args, config) -> int:
    return _run(_agents, args, config, "agents")


def cmd_conversations(args, config) -> int:
    return _run(_conversations, args, config, "conversations")


def add_console_commands(sub) -> None:
    agents = sub.add_parser(
        "agents", help="add, list and remove the people who answer in the console",
        description="The store's support agents, who log in to the handoff console at /console. "
                    "Roles: admin (everything, including agents, canned responses and deleting a shopper's "
                    "data) and agent (the queue and conversations). Passwords are stored as argon2id hashes.")
    actions = agents.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("list", help="list the agents and their roles")
    for name, text in (("add", "add an agent (asks for the password)"),
                       ("passwd", "set a new password (their open sessions end)")):
        action = actions.add_parser(name, help=text)
        action.add_argument("name", help="the agent's login name, e.g. ada or ada@your-store.example")
        if name == "add":
            action.add_argument("--role", choices=ROLES, default=AGENT, help=f"default: {AGENT}")
        action.add_argument("--password-stdin", action="store_true",
                            help="read the password from the first line of standard input (for scripts)")
    role = actions.add_parser("role", help="change an agent's role")
    role.add_argument("name")
    role.add_argument("role", choices=ROLES)
    remove = actions.add_parser("remove", help="remove an agent (their open sessions end)")
    remove.add_argument("name")
    agents.set_defaults(func=cmd_agents)

    conversations = sub.add_parser(
        "conversations", help="list, export or delete a shopper's conversation",
        description="Conversations are kept for console.retention_days after their last message, then "
                    f"deleted. A shopper's data can be exported or deleted on request. ({ADMIN}s can do the "
                    "same in the console.)")
    actions = conversations.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="the most recent conversations")
    listing.add_argument("--sender", help="only ids containing this")
    listing.add_argument("--limit", type=int, default=50)
    export = actions.add_parser("export", help="print (or write) one conversation as JSON")
    export.add_argument("sender", help="the conversation (sender) id, as the console shows it")
    export.add_argument("--out", help="write to this file")
    delete = actions.add_parser("delete", help="delete everything kept about a shopper's conversation")
    delete.add_argument("sender", help="the conversation (sender) id, as the console shows it")
    delete.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    conversations.set_defaults(func=cmd_conversations)
