"""LangChain tools the answering agent may call."""
from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING

from langchain_core.tools import StructuredTool
from pydantic import BaseModel, Field

from bot.errors import BotError

if TYPE_CHECKING:
    from bot.eligibility import Engine

from bot.eligibility import TOOL_NAME as ELIGIBILITY_TOOL_NAME

ELIGIBILITY_DESCRIPTION = """\
Decide whether ONE Carat generation model is unlimited (no credit deduction) for a customer, or uses credits.

Call it whenever a customer asks whether a model is unlimited / free / deducts credits for them, why credits \
went down after using a model, or which models their plan covers (call once per model). Works for image models \
(Nanobanana, Nanobanana Pro, Nanobanana 2, Z Image, ChatGPT Image 1.5 / 2.0, Seedream 4.0, Flux2 Pro, Grok \
Imagine, Midjourney), video models (Carat Video / LTX, Seedance 2.0, Sora, Veo, Kling, Lip sync), agent \
conversation models (Carat 1.0 Lite / 1.0 / Soul) and Agent 1.0 / 2.0. Names may be in any spelling or language.

The answer comes from the official rules and MUST be trusted over anything you remember or infer: repeat its \
`verdict` and `reason`, cite `source.url`, and mention `expires_on` and `notes` when present. Pass only facts the \
customer stated; leave a field empty rather than guessing. If `verdict` is "unknown" and `missing` is not \
empty, ask the customer for exactly those facts (plan, billing, signup_date, variant) and call again. If \
`missing` is empty, the help page itself does not decide the case: say so and point to the `reason`. \
An `error` in the result means the input was wrong (e.g. an unknown model, with suggestions): fix it or ask.\
"""


class EligibilityArgs(BaseModel):
    """Arguments of the eligibility tool."""

    model: str = Field(description="Model name as the customer wrote it, e.g. 'nanobanana pro 4k', 'Seedream 4.0', 'LTX', '시드림'.")
    variant: str | None = Field(None, description="Resolution or quality if the customer said it: 1K, 2K, 4K (Nanobanana Pro, Nanobanana 2) or Low, Medium (ChatGPT Image 2.0).")
    plan: str | None = Field(None, description="The customer's plan if stated: Plus, Premium, Max, Pro or Business.")
    billing: str | None = Field(None, description="Billing cycle if stated: monthly or annual.")
    signup_date: str | None = Field(None, description="Day the customer signed up, YYYY-MM-DD, if stated.")
    as_of: str | None = Field(None, description="Only when the customer asks about a future day (YYYY-MM-DD); empty means today.")


def make_eligibility_tool(engine: Engine, today: date | Callable[[], date] | None = None) -> StructuredTool:
    """Return the eligibility engine as a LangChain tool answering in JSON."""

    def day() -> date:
        """Return the day to answer for: fixed, from the given clock, or today."""
        if today is None:
            return date.today()
        return today() if callable(today) else today

    def check_unlimited_eligibility(
        model: str,
        variant: str | None = None,
        plan: str | None = None,
        billing: str | None = None,
        signup_date: str | None = None,
        as_of: str | None = None,
    ) -> str:
        """Return the verdict as JSON, or a JSON error the model can act on."""
        try:
            verdict = engine.evaluate(model, variant, plan, billing, signup_date, as_of=as_of or day())
        except BotError as err:
            return json.dumps(err.to_dict(), ensure_ascii=False)
        return json.dumps(verdict.to_dict(), ensure_ascii=False)

    return StructuredTool.from_function(
        func=check_unlimited_eligibility,
        name=ELIGIBILITY_TOOL_NAME,
        description=ELIGIBILITY_DESCRIPTION,
        args_schema=EligibilityArgs,
    )
