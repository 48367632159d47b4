"""One redaction function for every output path: errors, printed output, logs, history, references.

evalrefine runs with the author's API keys in the environment and in their config file, inside
repositories it does not trust, and talks to servers whose URLs may carry credentials. Whatever it
prints or stores passes through :func:`redact`, which removes

* every secret it was told about (:func:`register_secret`: the settings' ``SecretStr`` values),
* the value of every environment variable whose name says it holds one (``*_API_KEY``, ``*TOKEN*``,
  ``*SECRET*``, ``*PASSWORD*``), read at call time so keys exported later are covered too,
* the password part of URLs (``https://user:pass@host`` → ``https://user:***@host``),
* strings shaped like well-known keys (``sk-…``, ``sk-ant-…``, ``hf_…``, ``AKIA…``) even when
  nobody registered them (a key pasted into a prompt or echoed back by a server).
"""

from __future__ import annotations

import os
import re

MASK = "***"
_SECRET_NAME = re.compile(r"API_?KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]*):(?P<password>[^\s@/]+)@")
_KEY_SHAPES = re.compile(r"\b(?:sk-(?:ant-|proj-)?[A-Za-z0-9_-]{16,}|hf_[A-Za-z0-9]{20,}|AKIA[0-9A-Z]{16})\b")
_MIN_SECRET = 6
"""Shorter values are not masked: replacing every "abc" in a report would hide real text and
protects nothing (no real key is that short)."""

_registered: set[str] = set()


def register_secret(value: str | None) -> None:
    """Mask ``value`` wherever it appears from now on (settings call this for every key they hold)."""
    if value and len(value) >= _MIN_SECRET:
        _registered.add(value)


def _secrets() -> list[str]:
    found = set(_registered)
    for name, value in os.environ.items():
        if _SECRET_NAME.search(name) and len(value) >= _MIN_SECRET:
            found.add(value)
    return sorted(found, key=len, reverse=True)  # longest first: a key that contains another


def redact(text: str) -> str:
    """``text`` with every secret, URL password and key-shaped string replaced by ``***``."""
    for secret in _secrets():
        if secret in text:
            text = text.replace(secret, MASK)
    text = _URL_PASSWORD.sub(lambda m: f"{m.group('head')}:{MASK}@", text)
    return _KEY_SHAPES.sub(MASK, text)


def redact_record(value: object) -> object:
    """``value`` (JSON-shaped: dicts, lists, strings, numbers) with :func:`redact` applied to every string.

    Redacting the serialised text instead could cut through a quote or an escape when a secret
    happens to contain one, and leave a line that is no longer JSON; redacting the values cannot.
    """
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact(str(k)): redact_record(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_record(v) for v in value]
    return value


def redact_url(url: str) -> str:
    """A URL fit to show or store: its password removed (and any secret in it)."""
    return redact(url)
