"""Deterministic eligibility engine: is a model unlimited for a customer, or does it use credits?

The rules live in knowledge/rules/eligibility.yaml; this package is pure Python.
"""
from __future__ import annotations

from datetime import date
from functools import lru_cache

from bot.eligibility.catalog import Catalog, Mention, compact
from bot.eligibility.engine import Engine
from bot.eligibility.rules import RuleBook, load_rules
from bot.eligibility.verdict import ModelRef, SourceRef, Verdict

# The name the engine goes by as a tool, in model prompts and in recorded tool calls.
TOOL_NAME = "check_unlimited_eligibility"

__all__ = [
    "Catalog",
    "Engine",
    "Mention",
    "ModelRef",
    "RuleBook",
    "SourceRef",
    "TOOL_NAME",
    "Verdict",
    "compact",
    "default_engine",
    "evaluate",
    "find_models_in_text",
    "load_rules",
    "profile_table",
    "resolve_model",
]


@lru_cache(maxsize=1)
def default_engine() -> Engine:
    """Return the engine for the configured rules file (loaded once, on first use)."""
    from bot.settings import get_settings

    return Engine.from_file(get_settings().rules_file)


def evaluate(
    model: str,
    variant: str | None = None,
    plan: str | None = None,
    billing: str | None = None,
    signup_date: date | str | None = None,
    *,
    as_of: date | str,
) -> Verdict:
    """Return the verdict for one model with the configured rules."""
    return default_engine().evaluate(model, variant, plan, billing, signup_date, as_of=as_of)


def profile_table(plan: str | None, billing: str | None, signup_date: date | str | None, *, as_of: date | str) -> list[Verdict]:
    """Return every model's verdict for one customer profile."""
    return default_engine().profile_table(plan, billing, signup_date, as_of=as_of)


def resolve_model(text: str) -> tuple[str, str | None]:
    """Return (model_id, variant or None) for a customer's spelling of a model."""
    return default_engine().resolve_model(text)


def find_models_in_text(text: str) -> list[Mention]:
    """Return the models named in a sentence, typos included."""
    return default_engine().find_models_in_text(text)
