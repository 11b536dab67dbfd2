"""The handoffs sub-command: tickets passed to a person, and whether they reached the support desk."""
from __future__ import annotations

import argparse
import json

from bot.errors import InputError
from bot.settings import get_settings

STATUSES = ("pending", "delivered", "failed", "not_configured")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the handoffs sub-command."""
    p = sub.add_parser("handoffs", help="list handoff tickets and their delivery state")
    p.add_argument("ref", nargs="?", default=None, help="show one ticket in full (its reference, e.g. CS-7KX4QM)")
    p.add_argument("--status", choices=STATUSES, default=None, help="only tickets in this delivery state")
    p.add_argument("--limit", type=int, default=50, help="newest tickets shown (default 50)")
    p.add_argument("--retry", action="store_true", help="send failed tickets (or the one named) to the desk again")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_handoffs)


def cmd_handoffs(args: argparse.Namespace) -> int:
    """Print tickets newest first, or one ticket in full; --retry sends failed ones again."""
    from bot.conversation import ConversationStore
    from bot.desk import Desk
    from bot.tickets import TicketStore

    settings = get_settings()
    store = TicketStore(ConversationStore(settings.db_url).engine)
    if args.ref:
        ticket = store.get(args.ref)
        if ticket is None:
            raise InputError(f"no ticket {args.ref}")
        tickets = [ticket]
    else:
        tickets = store.latest(limit=max(1, args.limit), status="failed" if args.retry else args.status)
    if args.retry:
        desk = Desk(settings)
        if not desk.channels:
            raise InputError("no support desk is configured (HANDOFF_WEBHOOK_URL or SMTP_HOST with SMTP_TO)")
        for n, ticket in enumerate(tickets):
            status, deliveries = desk.deliver(ticket)
            store.record(ticket.ref, status, deliveries)
            tickets[n] = ticket.model_copy(update={"status": status, "deliveries": deliveries})
    if args.json:
        print(json.dumps([t.model_dump(mode="json") for t in tickets], ensure_ascii=False, indent=2))
        return 0
    if not tickets:
        print("no handoff tickets")
        return 0
    for t in tickets:
        sent = "; ".join(f"{d.channel} {'ok' if d.ok else 'failed'} after {d.attempts} attempt(s): {d.detail}"
                         for d in t.deliveries) or "-"
        print(f"{t.ref}  {t.created_at:%Y-%m-%d %H:%M}  {t.status:<14} {t.reason:<14} {t.email or '-'}  [{sent}]")
        if args.ref:
            profile = ", ".join(f"{k}={v}" for k, v in t.profile.items() if v not in (None, "")) or "-"
            print(f"  conversation {t.session_id} ({t.language}), profile: {profile}")
            for turn in t.transcript:
                for who, key in (("customer", "question"), ("bot", "answer")):
                    print(f"  {who}: " + turn.get(key, "").replace("\n", "\n    "))
    return 0
