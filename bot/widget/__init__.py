"""The embeddable chat widget: its script, and signed customer profiles for it.

A host site that knows the signed-in customer signs their profile with WIDGET_SECRET:

    canonical = "plan=<plan>\\nbilling=<billing>\\nsignup_date=<YYYY-MM-DD>\\nexpires=<unix seconds>"
    signature = hex(HMAC-SHA256(WIDGET_SECRET, canonical as UTF-8))

Each value is exactly the string the widget sends (empty when absent). `expires` is optional;
when present the signature stops being accepted after that moment, so an old plan cannot be
replayed after a downgrade.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from pathlib import Path

from pydantic import SecretStr, ValidationError

from bot.errors import InputError
from bot.types import Profile

log = logging.getLogger("bot.widget")

HERE = Path(__file__).resolve().parent
PROFILE_FIELDS = ("plan", "billing", "signup_date")


def canonical_profile(profile: dict[str, str | None], expires: int | None = None) -> str:
    """Return the exact string a profile signature covers."""
    lines = [f"{name}={(profile.get(name) or '').strip()}" for name in PROFILE_FIELDS]
    lines.append(f"expires={'' if expires is None else int(expires)}")
    return "\n".join(lines)


def sign_profile(secret: str, profile: dict[str, str | None], expires: int | None = None) -> str:
    """Return the hex HMAC-SHA256 signature of a profile (what a host site's server computes)."""
    return hmac.new(secret.encode(), canonical_profile(profile, expires).encode(), hashlib.sha256).hexdigest()


def verify_profile(secret: str, profile: dict[str, str | None], signature: str | None,
                   expires: int | None = None, now: float | None = None) -> bool:
    """Return True when the signature matches the profile and has not expired."""
    if not signature or any("\n" in (profile.get(n) or "") for n in PROFILE_FIELDS):
        return False
    if expires is not None and (now if now is not None else time.time()) > expires:
        return False
    return hmac.compare_digest(sign_profile(secret, profile, expires), signature.strip().lower())


def accepted_profile(raw: dict[str, str | None] | None, signature: str | None, expires: int | None,
                     secret: SecretStr | None) -> tuple[Profile | None, str]:
    """Return the profile to use and whether it was 'none', 'accepted' or 'ignored' (bad signature)."""
    if raw is None:
        return None, "none"
    if secret and not verify_profile(secret.get_secret_value(), raw, signature, expires):
        # An unsigned profile could claim any plan: answer as if nothing were known.
        log.info("ignored a profile without a valid signature")
        return None, "ignored"
    try:
        return Profile.model_validate({k: v.strip() for k, v in raw.items() if v and v.strip()}), "accepted"
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise InputError(f"the profile is not valid ({problems})") from None


def widget_script(allowed_origins: list[str], any_origin: bool, support_url: str | None = None, *,
                  max_chars: int) -> str:
    """Return widget.js with its stylesheet, the origin allow-list, the support link and the message limit filled in."""
    js = (HERE / "widget.js").read_text(encoding="utf-8")
    css = (HERE / "widget.css").read_text(encoding="utf-8")
    config = {"origins": allowed_origins, "anyOrigin": any_origin, "supportUrl": support_url, "maxChars": max_chars}
    # json.dumps keeps "</script>" and friends inert inside the script text.
    return (js.replace("__CARAT_CSS__", _js_string(css))
              .replace("__CARAT_CONFIG__", _js_string(json.dumps(config))))


def _js_string(text: str) -> str:
    """Return text as a JavaScript string literal safe to inline anywhere."""
    return json.dumps(text).replace("<", "\\u003c").replace(">", "\\u003e")
