"""Answer templates kept in prompts/, loaded strictly: a missing key or value is an error."""
from __future__ import annotations

import string
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from bot.errors import SourceError
from bot.settings import ROOT

PROMPTS = ROOT / "prompts"
LANGUAGES = ("en", "ko")
# Maps that only some languages carry (Korean wording of rule reasons and section summaries).
OPTIONAL_MAPS = ("reasons", "sections", "notes")


class Templates:
    """One language's answer templates."""

    def __init__(self, data: dict[str, Any], file: str) -> None:
        self.data = data
        self.file = file

    def render(self, key: str, **values: Any) -> str:
        """Fill the template at a dotted key; refuse unknown keys and missing values."""
        node: Any = self.data
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                raise SourceError(f"no template '{key}'", file=self.file)
            node = node[part]
        return fill(str(node), values, f"{self.file}:{key}")

    def optional(self, group: str, key: str, **values: Any) -> str | None:
        """Fill an optional per-language entry (a rule reason, a section summary), or return None."""
        text = (self.data.get(group) or {}).get(key)
        return fill(str(text), values, f"{self.file}:{group}.{key}") if text else None


def fill(template: str, values: dict[str, Any], where: str) -> str:
    """Fill {names} in template; a name without a value is an error."""
    names = {f for _, f, _, _ in string.Formatter().parse(template) if f}
    missing = names - values.keys()
    if missing:
        raise SourceError(f"template needs {sorted(missing)} but got {sorted(values)}", file=where)
    return template.format(**{k: values[k] for k in names})


def _keys(data: dict[str, Any], prefix: str = "") -> set[str]:
    out: set[str] = set()
    for k, v in data.items():
        if prefix == "" and k in OPTIONAL_MAPS:
            continue
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
        out[lang] = Templates(data, str(path))
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
