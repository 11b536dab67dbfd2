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
Decide from Carat's rules whether ONE image or video model is unlimited for the customer or uses credits. \
Call it once per model asked about; names in any spelling or language. Repeat its verdict and reason; never \
decide one yourself. unknown + missing: ask for those facts. An error names the right spelling.\
"""


class EligibilityArgs(BaseModel):
    """Arguments of the eligibility tool."""

    model: str = Field(description="Model name as written, e.g. 'Seedream 4.0'.")
    variant: str = Field("", description="e.g. 1K, 4K, Medium, if said.")
    plan: str = Field("", description="The customer's plan, if said.")
    billing: str = Field("", description="monthly or annual, if said.")
    signup_date: str = Field("", description="YYYY-MM-DD, if said.")
    as_of: str = Field("", description="A future day asked about, YYYY-MM-DD.")


def make_eligibility_tool(engine: Engine, today: date | Callable[[], date] | None = None) -> StructuredTool:
    """Return the eligibility engine as a LangChain tool answering in JSON."""

    def day() -> date:
        """Return the day to answer for: fixed, from the given clock, or today."""
        if today is None:
            return date.today()
        return today() if callable(today) else today

    def check_unlimited_eligibility(
        model: str,
        variant: str = "",
        plan: str = "",
        billing: str = "",
        signup_date: str = "",
        as_of: str = "",
    ) -> str:
        """Return the verdict as JSON, or a JSON error the model can act on."""
        try:
            verdict = engine.evaluate(model, variant or None, plan or None, billing or None, signup_date or None,
                                      as_of=as_of or day())
        except BotError as err:
            return json.dumps(err.to_dict(), ensure_ascii=False)
        return json.dumps(verdict.to_dict(), ensure_ascii=False)

    return StructuredTool.from_function(
        func=check_unlimited_eligibility,
        name=ELIGIBILITY_TOOL_NAME,
        description=ELIGIBILITY_DESCRIPTION,
        args_schema=EligibilityArgs,
    )
