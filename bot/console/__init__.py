"""The agent handoff console: where a person from the store takes over a
conversation, answers live in the shopper's own channel, and hands back.

    desk.py    the conversations for people, in Redis: queue, handoffs, traces, notes, summary
    agents.py  the store's agents, their roles and password hashes; failed-login counts
    api.py     the page at /console and its JSON API under /console/api/, with its security
    live.py    live queue and conversation updates to every open console (Redis pub/sub)
    hours.py   support hours
    cli.py     `shopkeep agents ...` and `shopkeep conversations ...`
"""
