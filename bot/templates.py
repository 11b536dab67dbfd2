"""Wording kept in prompts/, loaded strictly: a missing key or value is an error, never a blank."""
from __future__ import annotations

import string
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from bot.errors import SourceError
from bot.korean import attach
from bot.settings import ROOT

PROMPTS = ROOT / "prompts"
LANGUAGES = ("en", "ko")


class _Formatter(string.Formatter):
    """str.format where a Korean particle as the format spec fits the word: {model:은} -> '소라 2는'."""

    def format_field(self, value: Any, format_spec: str) -> str:
        if format_spec and not format_spec.isascii():
            return attach(str(value), format_spec)
        return super().format_field(value, format_spec)


_FORMATTER = _Formatter()


class Templates:
    """One language's templates."""

    def __init__(self, data: dict[str, Any], file: str, lang: str = "en") -> None:
        self.data = data
        self.file = file
        self.lang = lang

    def has(self, key: str) -> bool:
        """Return True when a dotted key names a template."""
        node: Any = self.data
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
        return isinstance(node, str)

    def raw(self, key: str) -> Any:
        """Return the value at a dotted key (a string, list or mapping); refuse unknown keys."""
        node: Any = self.data
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                raise SourceError(f"no template '{key}'", file=self.file)
            node = node[part]
        return node

    def render(self, key: str, **values: Any) -> str:
        """Fill the template at a dotted key; refuse unknown keys and missing values."""
        return fill(str(self.raw(key)), values, f"{self.file}:{key}")

    def names(self, key: str) -> set[str]:
        """Return the placeholders a template uses."""
        return placeholders(str(self.raw(key)))


def placeholders(template: str) -> set[str]:
    """Return the names a template fills in."""
    return {f.split(".")[0].split("[")[0] for _, f, _, _ in string.Formatter().parse(template) if f}


def fill(template: str, values: dict[str, Any], where: str) -> str:
    """Fill {names} in template (a Korean particle may follow as {name:은}); a name without a value is an error."""
    names = placeholders(template)
    missing = names - values.keys()
    if missing:
        raise SourceError(f"template needs {sorted(missing)} but got {sorted(values)}", file=where)
    return _FORMATTER.format(template, **{k: values[k] for k in names})


def _keys(data: dict[str, Any], prefix: str = "") -> set[str]:
    out: set[str] = set()
    for k, v in data.items():
        out |= _keys(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}"}
    return out


@lru_cache(maxsize=4)
def load_templates(folder: Path = PROMPTS / "offline") -> dict[str, Templates]:
    """Load every language's templates and check they carry the same keys."""
    out: dict[str, Templates] = {}
    for lang in LANGUAGES:
        path = folder / f"{lang}.yaml"
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as err:
            raise SourceError(f"cannot read templates ({err})", file=str(path)) from err
        out[lang] = Templates(data, str(path), lang)
    base = _keys(out["en"].data)
    for lang, tpl in out.items():
        diff = base ^ _keys(tpl.data)
        if diff:
            raise SourceError(f"template keys differ from en.yaml: {sorted(diff)}", file=tpl.file)
    return out


def load_prompt(name: str, **values: Any) -> str:
    """Return prompts/NAME filled with values; a missing value is an error."""
    path = PROMPTS / name
    return fill(path.read_text(encoding="utf-8"), values, str(path))
