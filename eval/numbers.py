"""Dates, numbers and links in text: the bot's own checker (bot/numbers.py), used by the eval too."""
from bot.numbers import (  # noqa: F401
    DATE_PATTERNS,
    NUMBER,
    QUANTITY,
    DateClaim,
    find_dates,
    find_links,
    find_numbers,
    link_keys,
    quantities,
    supported_facts,
    unsupported,
)
