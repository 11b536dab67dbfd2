"""The three faces (Python, CLI, LangChain tool) give the same answers and refuse bad input."""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from bot.errors import InputError
from bot.eligibility import Engine
from bot.tools import ELIGIBILITY_TOOL_NAME, make_eligibility_tool

ROOT = Path(__file__).resolve().parent.parent
ENGINE = Engine.from_file(ROOT / "knowledge" / "rules" / "eligibility.yaml")
AS_OF = "2026-11-20"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run python -m bot with args from the project folder."""
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, capture_output=True, text=True, timeout=60)


BAD_INPUTS = [
    ({"model": "imagen 4"}, "did you mean"),
    ({"model": "nanobanana pro", "variant": "8K"}, "1K, 2K, 4K"),
    ({"model": "seedream 4.0", "variant": "4K"}, "has no variants"),
    ({"model": "nanobanana pro 4k", "variant": "1k"}, "names variant"),
    ({"model": "seedream 4.0", "plan": "gold"}, "unknown plan"),
    ({"model": "seedream 4.0", "billing": "weekly"}, "unknown billing"),
    ({"model": "seedream 4.0", "signup_date": "2026-02-30"}, "not a real date"),
    ({"model": "seedream 4.0", "signup_date": "25/02/2026"}, "YYYY-MM-DD"),
    ({"model": "seedream 4.0", "signup_date": "2026-12-01"}, "after the as-of date"),
    ({"model": "seedream 4.0", "as_of": "2026-13-01"}, "not a real date"),
]


@pytest.mark.parametrize(("kwargs", "message"), BAD_INPUTS, ids=[m for _, m in BAD_INPUTS])
def test_bad_input_raises_input_error(kwargs: dict, message: str) -> None:
    kwargs = {"as_of": AS_OF, **kwargs}
    with pytest.raises(InputError, match=message):
        ENGINE.evaluate(**kwargs)


def test_plan_and_billing_are_case_insensitive() -> None:
    a = ENGINE.evaluate("seedream 4.0", plan="Premium", billing="yearly", signup_date="2026-03-01", as_of=AS_OF)
    b = ENGINE.evaluate("Seedream 4.0", plan="premium", billing="annual", signup_date=date(2026, 3, 1), as_of=date(2026, 11, 20))
    assert a == b and a.plan == "premium" and a.billing == "annual"


def test_as_of_is_required() -> None:
    with pytest.raises(TypeError):
        ENGINE.evaluate("sora")  # type: ignore[call-arg]
    with pytest.raises(InputError):
        ENGINE.evaluate("sora", as_of="")


def test_profile_rejects_bad_plan() -> None:
    with pytest.raises(InputError):
        ENGINE.profile_table("gold", "annual", "2026-01-01", as_of=AS_OF)


# --- CLI ------------------------------------------------------------------------------------


def to_cli(kwargs: dict) -> list[str]:
    """Return CLI flags for evaluate() keyword arguments."""
    out = []
    for key, value in kwargs.items():
        out += [f"--{key.replace('_', '-')}", str(value)]
    return out


@pytest.mark.parametrize(("kwargs", "message"), BAD_INPUTS, ids=[m for _, m in BAD_INPUTS])
def test_cli_bad_input_is_exit_2_with_json_error(kwargs: dict, message: str) -> None:
    result = cli("eligibility", *to_cli({"as_of": AS_OF, **kwargs}), "--json")
    assert result.returncode == 2, result.stderr
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "bad_input" and message in error["message"]


def test_cli_json_matches_the_function() -> None:
    result = cli("eligibility", "--model", "Flux 2 pro", "--plan", "PREMIUM", "--billing", "Annual", "--signup-date", "2026-03-01", "--as-of", AS_OF, "--json")
    assert result.returncode == 0, result.stderr
    expected = ENGINE.evaluate("flux2 pro", plan="premium", billing="annual", signup_date="2026-03-01", as_of=AS_OF).to_dict()
    assert json.loads(result.stdout) == expected


def test_cli_text_form() -> None:
    result = cli("eligibility", "--model", "carat video", "--plan", "premium", "--billing", "monthly", "--signup-date", "2026-03-01", "--as-of", AS_OF)
    assert result.returncode == 0
    assert result.stdout.startswith("Carat Video (LTX): UNLIMITED") and "2027-03-01" in result.stdout


def test_cli_text_error_goes_to_stderr() -> None:
    result = cli("eligibility", "--model", "imagen 4", "--as-of", AS_OF)
    assert result.returncode == 2 and "did you mean" in result.stderr and result.stdout == ""


def test_cli_needs_a_model_or_profile() -> None:
    result = cli("eligibility", "--as-of", AS_OF, "--json")
    assert result.returncode == 2 and "--model" in json.loads(result.stdout)["error"]["message"]


def test_cli_as_of_defaults_to_today() -> None:
    result = cli("eligibility", "--model", "sora", "--json")
    assert result.returncode == 0 and json.loads(result.stdout)["as_of"] == date.today().isoformat()


def test_cli_profile_json_and_text() -> None:
    result = cli("eligibility", "--profile", "--plan", "max", "--billing", "annual", "--signup-date", "2026-06-01", "--as-of", AS_OF, "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    expected = [v.to_dict() for v in ENGINE.profile_table("max", "annual", "2026-06-01", as_of=AS_OF)]
    assert data["rows"] == expected and data["profile"]["plan"] == "max"
    text = cli("eligibility", "--profile", "--plan", "max", "--billing", "annual", "--signup-date", "2026-06-01", "--as-of", AS_OF)
    assert "Nanobanana 2 1K" in text.stdout and "Carat Video (LTX)" in text.stdout


# --- LangChain tool -----------------------------------------------------------------------


def test_tool_returns_the_same_json_as_the_function() -> None:
    tool = make_eligibility_tool(ENGINE, today=date(2026, 11, 20))
    assert tool.name == ELIGIBILITY_TOOL_NAME
    args = {"model": "nanobanana pro", "variant": "2K", "plan": "plus", "billing": "monthly", "signup_date": "2025-11-25"}
    out = tool.invoke(args)
    assert json.loads(out) == ENGINE.evaluate(as_of=AS_OF, **args).to_dict()


def test_tool_reports_missing_facts_and_errors_as_json() -> None:
    tool = make_eligibility_tool(ENGINE, today=lambda: date(2026, 11, 20))
    partial = json.loads(tool.invoke({"model": "seedream", "plan": "premium", "billing": ""}))
    assert partial["verdict"] == "unknown" and partial["missing"] == ["signup_date"]
    error = json.loads(tool.invoke({"model": "imagen 4"}))
    assert error["error"]["code"] == "bad_input" and error["error"]["suggestions"]


def test_tool_schema_and_description_guide_the_model() -> None:
    tool = make_eligibility_tool(ENGINE)
    schema = tool.tool_call_schema.model_json_schema()
    assert schema["required"] == ["model"]
    assert set(schema["properties"]) == {"model", "variant", "plan", "billing", "signup_date", "as_of"}
    assert "never" in tool.description and "missing" in tool.description
    # The schema is small: the model does not need the catalog (the engine resolves any spelling).
    from langchain_core.utils.function_calling import convert_to_openai_tool

    from bot.tokens import count_tokens

    assert count_tokens(json.dumps(convert_to_openai_tool(tool))) < 300
