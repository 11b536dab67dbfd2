"""The README stays true: its settings table matches the settings, its two commands exist."""
from __future__ import annotations

from bot.commands import settings_table
from bot.settings import ROOT


def test_settings_table_is_current() -> None:
    assert settings_table() in (ROOT / "README.md").read_text(encoding="utf-8")


def test_quickstart_commands_exist_in_makefile() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "make run" in readme and "make test" in readme
    assert "\nrun: " in makefile and "\ntest: " in makefile
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
