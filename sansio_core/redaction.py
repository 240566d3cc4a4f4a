"""Secrets: what a target must never print, and the one rule that scrubs it.

Two rules, both here:

* **by name** (``sanitize``): in metadata and debug output, fields and headers
  whose name says "credential" (``authorization``, ``x-api-key``, ``password``,
  ...) and strings that look like keys become ``[REDACTED]``;
* **by value** (``Secrets.redact``): every secret value a target was configured
  with, wherever it appears in a text. ``Secrets.from_entry`` collects them when
  the target is built: the auth block's token, password (and the Basic
  ``base64(user:pass)`` form), API key value, OAuth client secret and password;
  signature and TLS passwords; passwords in URLs (``http://user:pass@host``);
  the values of secret-named headers, query parameters and fields anywhere in
  the config, and of secret-named header lines of a raw ``request``. Values
  written as ``{{env.X}}`` are rendered with the environment. At call time the
  target also *learns* the credentials it actually sent (OAuth tokens, rendered
  auth headers) with ``Secrets.learn``.

Each value is also scrubbed in the forms a server that echoes a request would
quote it in: percent-encoded (query strings, form bodies) and JSON-escaped.
Values shorter than ``MIN_SECRET_LENGTH`` characters are not scrubbed by value
(they would match everywhere); the by-name rule still hides them.

Every boundary where text leaves a target goes through one ``Secrets``: error
messages (``Call`` fails with ``scrub_error``), ``target.label``, the result's
``metadata`` and ``error``, and configuration errors raised while building.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import quote, quote_plus, unquote

from .errors import PromptwireError, WebSocketClosed
from .templating import TemplateEngine, has_tags

REDACTED = "[REDACTED]"
# Header and field names that hold credentials, compared after lower-casing and
# removing '-', '_', whitespace and '=' (promptfoo's sanitizer list).
SECRET_NAMES = frozenset({
    "authorization", "proxyauthorization", "cookie", "setcookie", "xapikey", "apikey", "apisecret",
    "token", "accesstoken", "refreshtoken", "idtoken", "authtoken", "xauthtoken", "xaccesstoken",
    "xsecret", "secret", "clientsecret", "password", "passwd", "xcsrftoken", "csrftoken",
    "sessionid", "session", "signature", "privatekey", "xamzsecuritytoken",
})
# Config options that hold a secret value besides those (the password options
# of TLS and signatureAuth).
CONFIG_SECRET_NAMES = SECRET_NAMES | frozenset({
    "passphrase", "keystorepassword", "keypassword", "pfxpassword", "certificatepassword",
})
_SECRET_VALUE = re.compile(
    r"^(?:sk-[A-Za-z0-9_-]{8,}|(?:Bearer|Basic)\s+\S{20,}|AKIA[0-9A-Z]{16}|AIza[0-9A-Za-z_-]{30,}"
    r"|[A-Za-z0-9+/=_-]{64,})$"
)
# Nothing shorter can match ``_SECRET_VALUE`` (``sk-`` and 8 more is its shortest form).
_SHORTEST_SECRET_VALUE = 11
_NAME_NOISE = re.compile(r"[-_\s=]")
_MAX_SANITIZE_DEPTH = 4
# Values ``Secrets.redact_data`` returns as they are (exact types).
_LEAVES = frozenset({int, float, bool, type(None)})
_MAX_COLLECT_DEPTH = 12
MIN_SECRET_LENGTH = 4
# Credentials learned at call time (OAuth tokens, rendered auth headers): the
# most recent ones are kept, so a target that signs every call stays bounded.
MAX_LEARNED = 256
_URL_USERINFO = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://([^/?#@\s:]*):([^/?#@\s]*)@")
_HEADER_LINE = re.compile(r"^\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*:\s*(.*?)\s*$", re.MULTILINE)
_AUTH_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*\s+(\S.*)$")


# Header and field names repeat on every call: the answer is remembered (bounded).
_SECRET_NAME_SEEN: dict[str, bool] = {}
_MAX_SEEN_NAMES = 4096


def is_secret_name(name: str) -> bool:
    known = _SECRET_NAME_SEEN.get(name)
    if known is None:
        known = _NAME_NOISE.sub("", name.lower()) in SECRET_NAMES
        if len(_SECRET_NAME_SEEN) < _MAX_SEEN_NAMES and type(name) is str:
            _SECRET_NAME_SEEN[name] = known
    return known


def _is_config_secret_name(name: str) -> bool:
    return _NAME_NOISE.sub("", name.lower()) in CONFIG_SECRET_NAMES


def sanitize(value: Any, depth: int = 0) -> Any:
    """A copy safe for metadata and logs: secret-named fields and secret-looking
    strings become ``[REDACTED]``; nesting deeper than four levels becomes ``[...]``."""
    if isinstance(value, str):
        if len(value) < _SHORTEST_SECRET_VALUE:
            return value
        return REDACTED if _SECRET_VALUE.match(value) else value
    if isinstance(value, Mapping):
        if depth >= _MAX_SANITIZE_DEPTH:
            return "[...]"
        return {
            k: (REDACTED if isinstance(k, str) and is_secret_name(k) else sanitize(v, depth + 1))
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        if depth >= _MAX_SANITIZE_DEPTH:
            return "[...]"
        return [sanitize(v, depth + 1) for v in value]
    return value


def basic_token(username: str, password: str) -> str:
    """The base64 part of ``Authorization: Basic``."""
    return base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


def _forms(value: str) -> Iterator[str]:
    """``value`` as a server echoing the request could quote it."""
    yield value
    yield quote(value, safe="")
    yield quote_plus(value, safe="")
    yield json.dumps(value, ensure_ascii=False)[1:-1]
    yield json.dumps(value)[1:-1]


class Secrets:
    """The secret values of one target, and ``redact`` / ``scrub_error`` over them.

    Shared by every call of the target (calls ``learn`` what they send);
    ``redact`` reads one immutable snapshot, so concurrent use is safe.
    """

    __slots__ = ("_configured", "_learned", "_values")

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._configured = frozenset(v for v in values if isinstance(v, str))
        self._learned: dict[str, None] = {}
        self._values: tuple[str, ...] = ()
        self._rebuild()

    # -- building ---------------------------------------------------------------------

    @classmethod
    def from_entry(cls, entry_id: str, label: str | None, raw_config: Mapping[str, Any] | None,
                   env: Mapping[str, str] | None = None, entry_env: Mapping[str, Any] | None = None) -> Secrets:
        """Every secret of a provider entry as written (see the module docstring)."""
        found: list[str] = []
        renderer = _EnvRenderer(env or {}, entry_env)
        for text in (entry_id, label):
            if isinstance(text, str):
                found += _url_passwords(text)
        config = raw_config if isinstance(raw_config, Mapping) else {}
        _walk(config, found, renderer, 0)
        auth = config.get("auth")
        if isinstance(auth, Mapping):
            found += _auth_values(auth, renderer)
        request = config.get("request")
        if isinstance(request, str):
            for name, value in _HEADER_LINE.findall(request):
                if is_secret_name(name):
                    found += _credential_parts(value)
        return cls(found)

    def learn(self, values: Iterable[str]) -> None:
        """Add credentials sent at call time (bounded: the oldest are forgotten)."""
        added = False
        for value in values:
            for part in _learned_parts(value):
                if len(part) >= MIN_SECRET_LENGTH and part not in self._configured and part not in self._learned:
                    self._learned[part] = None
                    added = True
        if added:
            learned = self._learned.copy()
            while len(learned) > MAX_LEARNED:
                learned.pop(next(iter(learned)))
            self._learned = learned
            self._rebuild()

    def _rebuild(self) -> None:
        forms = {form for value in (*self._configured, *self._learned.copy())
                 if len(value) >= MIN_SECRET_LENGTH for form in _forms(value)}
        self._values = tuple(sorted((f for f in forms if len(f) >= MIN_SECRET_LENGTH), key=len, reverse=True))

    def __bool__(self) -> bool:
        return bool(self._values)

    def __contains__(self, value: object) -> bool:
        return value in self._values

    # -- scrubbing --------------------------------------------------------------------

    def redact(self, text: str) -> str:
        """``text`` with every secret value replaced by ``[REDACTED]``."""
        for value in self._values:
            if value in text:
                text = text.replace(value, REDACTED)
        return text

    def redact_data(self, value: Any, depth: int = 0) -> Any:
        """A JSON-like value with every string (keys included) redacted."""
        if not self._values:
            return value
        kind = type(value)
        if kind is str:
            return self.redact(value)
        if kind is int or kind is float or kind is bool or value is None:
            return value  # the common leaves, by exact type before the ABC checks below
        if isinstance(value, str):
            return self.redact(value)
        if depth > _MAX_COLLECT_DEPTH * 4:
            return value
        redact, data = self.redact, self.redact_data
        # Inline (most values are short strings and numbers: a call per value
        # costs more than the redaction): a string shorter than the shortest
        # secret value cannot contain one, and the leaves ``data`` returns as
        # they are are not passed to it.
        shortest = len(self._values[-1])
        leaves = _LEAVES
        if kind is dict or isinstance(value, Mapping):
            return {((k if len(k) < shortest else redact(k)) if isinstance(k, str) else k):
                    ((v if len(v) < shortest else redact(v)) if type(v) is str
                     else v if type(v) in leaves else data(v, depth + 1))
                    for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [(v if len(v) < shortest else redact(v)) if type(v) is str
                    else v if type(v) in leaves else data(v, depth + 1) for v in value]
        return value

    def scrub_error(self, err: PromptwireError) -> PromptwireError:
        """``err`` with its message (and a WebSocket close reason) redacted, in place.

        When anything was redacted the exception chain is cut too: a cause's
        text would carry the same secret."""
        message = self.redact(err.message)
        changed = message != err.message
        if isinstance(err, WebSocketClosed) and err.reason:
            reason = self.redact(err.reason)
            changed = changed or reason != err.reason
            err.reason = reason
        if changed:
            err.message = message
            err.args = (message,)
            err.__cause__ = None
            err.__suppress_context__ = True
        return err


# -- collecting ---------------------------------------------------------------------


class _EnvRenderer:
    """Renders ``{{env.X}}`` in a configured secret once (``None`` if it cannot)."""

    def __init__(self, env: Mapping[str, str], entry_env: Mapping[str, Any] | None) -> None:
        self._env = env
        self._entry_env = entry_env
        self._engine: TemplateEngine | None = None

    def __call__(self, value: str) -> list[str]:
        if not has_tags(value):
            return [value]
        if self._engine is None:
            self._engine = TemplateEngine.from_env(self._env, self._entry_env)
        try:
            rendered = str(self._engine.compile(value).render({}))
        except PromptwireError:
            return []
        return [rendered] if rendered.strip() else []


# A target sends the same credentials call after call (``Secrets.learn``): the
# parts of each are remembered (bounded, cleared when full).
_PARTS_SEEN: dict[str, tuple[str, ...]] = {}
_MAX_PARTS_SEEN = 256


def _learned_parts(value: str) -> tuple[str, ...]:
    parts = _PARTS_SEEN.get(value)
    if parts is None:
        parts = tuple(_credential_parts(value))
        if type(value) is str:
            if len(_PARTS_SEEN) >= _MAX_PARTS_SEEN:
                _PARTS_SEEN.clear()
            _PARTS_SEEN[value] = parts
    return parts


def _credential_parts(value: str) -> list[str]:
    """A credential and, for ``Scheme credential`` header values, the credential alone
    (and a Basic credential's decoded password)."""
    parts = [value]
    match = _AUTH_SCHEME.match(value.strip())
    if match:
        parts.append(match.group(1))
        if value.strip().lower().startswith("basic "):
            try:
                decoded = base64.b64decode(match.group(1), validate=True).decode("utf-8")
            except ValueError:
                decoded = ""
            if ":" in decoded:
                parts.append(decoded.partition(":")[2])
    return parts


def _url_passwords(text: str) -> list[str]:
    out: list[str] = []
    for user, password in _URL_USERINFO.findall(text):
        if password:
            plain_user, plain = unquote(user), unquote(password)
            out += [password, plain, basic_token(plain_user, plain)]
    return out


def _walk(value: Any, found: list[str], render: _EnvRenderer, depth: int) -> None:
    """Secret-named options anywhere in the config, and URL passwords in any string."""
    if depth > _MAX_COLLECT_DEPTH:
        return
    if isinstance(value, str):
        if "@" in value:
            found += _url_passwords(value)
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str) and isinstance(item, str) and _is_config_secret_name(key):
                for rendered in render(item):
                    found += _credential_parts(rendered)
            _walk(item, found, render, depth + 1)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _walk(item, found, render, depth + 1)


def _auth_values(auth: Mapping[str, Any], render: _EnvRenderer) -> list[str]:
    """The auth block's secrets, by its type (the names alone miss api_key's ``value``
    and the Basic forms)."""
    def text(key: str) -> list[str]:
        value = auth.get(key)
        return render(value) if isinstance(value, str) else []

    kind = auth.get("type")
    out: list[str] = []
    if kind == "api_key":
        out += text("value")
    for user_key, secret_key in (("username", "password"), ("clientId", "clientSecret")):
        for secret in text(secret_key):
            out.append(secret)
            for user in text(user_key) or [""]:
                out.append(basic_token(user, secret))
    return out


__all__ = [
    "CONFIG_SECRET_NAMES",
    "MAX_LEARNED",
    "MIN_SECRET_LENGTH",
    "REDACTED",
    "SECRET_NAMES",
    "Secrets",
    "basic_token",
    "is_secret_name",
    "sanitize",
]
