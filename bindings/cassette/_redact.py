"""Secrets never reach a cassette: redaction on write, and the same view when matching.

Two layers, both length-preserving (a response body keeps its ``content-length``
and chunk sizes, so a redacted recording still replays):

* by **structure**: values of sensitive request and response headers
  (``Authorization``, cookies, API-key headers, ``filter_headers``), sensitive
  query parameters (API keys, ``filter_query_parameters``), OAuth form fields
  (``client_secret``, ``password``, ...) and OAuth tokens in token responses;
* by **value**: every secret string found that way, and every secret the
  target's configuration holds (``auth``, ``signatureAuth``, TLS passwords,
  sensitive ``headers``; templates rendered with the environment), is masked
  wherever it occurs (an echo endpoint that repeats a header, a body).

A mask is ``[REDACTED***]`` cut to the secret's length (``****`` below 10
characters). Masks are never compared: ``normalize`` turns any mask into one
token on both sides of a match.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus, unquote_plus

MIN_SECRET = 4  # shorter strings are masked only where structure says so

SENSITIVE_HEADERS = frozenset({
    "authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "api-key", "apikey",
    "x-goog-api-key", "x-auth-token", "x-access-token", "openai-api-key", "x-amz-security-token",
})
_SENSITIVE_NAME = re.compile(r"auth|token|api[-_]?key|secret|password|passwd|signature|cookie|credential", re.I)
SENSITIVE_QUERY = frozenset({
    "api_key", "apikey", "api-key", "key", "token", "access_token", "auth", "client_secret", "password",
    "secret", "sig", "signature", "code", "refresh_token",
})
SENSITIVE_FORM = frozenset({
    "client_secret", "password", "refresh_token", "client_assertion", "assertion", "code", "code_verifier",
    "access_token", "username", "client_id",
})
_TOKEN_FIELDS = re.compile(rb'"(access_token|refresh_token|id_token)"\s*:\s*"((?:[^"\\]|\\.)*)"')
_MASK = re.compile(r"\[REDACTED\**\]|\*{2,}")
# Under these config keys every string is a secret except the listed, harmless ones.
_SECRET_SECTIONS: dict[str, frozenset[str]] = {
    "auth": frozenset({"type", "grantType", "tokenUrl", "placement", "keyName", "path", "scopes"}),
    "signatureAuth": frozenset({
        "type", "privateKeyPath", "keystorePath", "pfxPath", "certPath", "keyPath", "certificateFilename",
        "signatureAlgorithm", "signatureDataTemplate", "keyAlias", "signatureValidityMs",
        "signatureRefreshBufferMs",
    }),
}
_HARMLESS = frozenset().union(*_SECRET_SECTIONS.values())
_TLS_SECRETS = frozenset({"key", "passphrase", "keystorePassword", "pfx", "jksContent"})


def mask(n: int) -> str:
    return "[REDACTED" + "*" * (n - 10) + "]" if n >= 10 else "*" * n


def normalize(text: str) -> str:
    """Any mask, whatever its length, as one token: redacted values never decide a match."""
    return _MASK.sub("<redacted>", text)


class Redactor:
    """The secrets of one target plus the user's filters; ``scrub`` masks them in bytes."""

    def __init__(self, *, secrets: Iterable[str] = (), filter_headers: Iterable[str] = (),
                 filter_query_parameters: Iterable[str] = (),
                 filter_post_data_parameters: Iterable[str] = ()) -> None:
        self.headers = SENSITIVE_HEADERS | {h.lower() for h in filter_headers}
        self.query = SENSITIVE_QUERY | {q.lower() for q in filter_query_parameters}
        self.form = SENSITIVE_FORM | {f.lower() for f in filter_post_data_parameters}
        self._secrets: set[str] = set()
        for s in secrets:
            self.add(s)

    @classmethod
    def for_config(cls, raw_config: Mapping[str, Any] | None, env: Mapping[str, str],
                   config_env: Mapping[str, Any] | None = None, **filters: Any) -> Redactor:
        self = cls(**filters)
        if raw_config:
            for value in _config_secrets(raw_config, self):
                self.add(_render(value, env, config_env))
                self.add(value)
        return self

    # -- the secret list --------------------------------------------------------------

    def add(self, secret: str | None) -> None:
        if not secret or not isinstance(secret, str):
            return
        secret = secret.strip()
        forms = {secret, quote(secret, safe=""), quote_plus(secret)}
        for prefix in ("Bearer ", "Basic ", "Token ", "bearer ", "basic "):
            if secret.startswith(prefix):
                forms.add(secret[len(prefix):].strip())
        if secret.startswith(("Basic ", "basic ")):
            try:
                user, _, password = base64.b64decode(secret[6:].strip(), validate=True).decode().partition(":")
                forms.update({user, password})
            except (ValueError, UnicodeDecodeError):
                pass
        if "\n" in secret:  # PEM material: every long line on its own too
            forms.update(line.strip() for line in secret.splitlines() if len(line.strip()) >= 16)
        self._secrets.update(f for f in forms if len(f) >= MIN_SECRET)

    @property
    def secrets(self) -> frozenset[str]:
        return frozenset(self._secrets)

    def learn_from_request(self, data: bytes) -> None:
        """Secrets a request shows by structure (header values, query and form fields)."""
        head_body = data.split(b"\r\n\r\n", 1)
        lines = head_body[0].decode("latin-1").split("\r\n")
        if lines and " " in lines[0]:
            target = lines[0].split(" ")[1] if len(lines[0].split(" ")) > 1 else ""
            if "?" in target:
                for name, value in _pairs(target.split("?", 1)[1]):
                    if name.lower() in self.query:
                        self.add(value)
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if self._sensitive_header(name):
                self.add(value.strip())
                if name.strip().lower() == "cookie":
                    for part in value.split(";"):
                        self.add(part.partition("=")[2].strip())
        if len(head_body) == 2 and b"=" in head_body[1] and b"\r\n" not in head_body[1][:200]:
            for name, value in _pairs(head_body[1].decode("latin-1")):
                if name.lower() in self.form:
                    self.add(value)

    def learn_from_response(self, data: bytes) -> None:
        """OAuth tokens in token responses and cookie values the server sets."""
        for m in _TOKEN_FIELDS.finditer(data):
            self.add(m.group(2).decode("utf-8", "replace"))
        head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        for line in head.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "set-cookie":
                self.add(value.split(";", 1)[0].partition("=")[2].strip())
            elif name.strip().lower() in self.headers:
                self.add(value.strip())

    def _sensitive_header(self, name: str) -> bool:
        low = name.strip().lower()
        return low in self.headers or bool(_SENSITIVE_NAME.search(low))

    # -- masking ----------------------------------------------------------------------

    def scrub(self, data: bytes) -> bytes:
        """Mask every known secret, then sensitive fields by structure; same length out."""
        for secret in sorted(self._secrets, key=len, reverse=True):
            raw = secret.encode("utf-8")
            if raw in data:
                data = data.replace(raw, mask(len(raw)).encode("ascii"))
        return self._structural(data)

    def scrub_text(self, text: str) -> str:
        return self.scrub(text.encode("utf-8")).decode("utf-8", "replace")

    def _structural(self, data: bytes) -> bytes:
        parts = data.split(b"\r\n\r\n", 1)
        head = parts[0]
        if not (head.startswith(b"HTTP/") or re.match(rb"^[A-Z]+ \S+ HTTP/", head)):
            return data
        lines = head.split(b"\r\n")
        if not head.startswith(b"HTTP/"):
            lines[0] = re.sub(rb"([?&])([^=&#\s]+)=([^&#\s]*)", self._query_sub, lines[0])
        for i, line in enumerate(lines[1:], 1):
            name, sep, value = line.partition(b":")
            if sep and self._sensitive_header(name.decode("latin-1")):
                lead = len(value) - len(value.lstrip())
                lines[i] = name + b":" + value[:lead] + mask(len(value) - lead).encode("ascii")
        out = b"\r\n".join(lines)
        if len(parts) == 2:
            body = parts[1]
            if not head.startswith(b"HTTP/") and b"=" in body and re.fullmatch(rb"[\x21-\x7e]*", body):
                body = re.sub(rb"(^|&)([^=&]+)=([^&]*)", self._form_sub, body)
            out += b"\r\n\r\n" + body
        return out

    def _query_sub(self, m: re.Match[bytes]) -> bytes:
        if unquote_plus(m.group(2).decode("latin-1")).lower() in self.query and m.group(3):
            return m.group(1) + m.group(2) + b"=" + mask(len(m.group(3))).encode("ascii")
        return m.group(0)

    def _form_sub(self, m: re.Match[bytes]) -> bytes:
        if unquote_plus(m.group(2).decode("latin-1")).lower() in self.form and m.group(3):
            return m.group(1) + m.group(2) + b"=" + mask(len(m.group(3))).encode("ascii")
        return m.group(0)


def _pairs(text: str) -> list[tuple[str, str]]:
    out = []
    for part in text.split("&"):
        name, _, value = part.partition("=")
        out.append((unquote_plus(name), unquote_plus(value)))
    return out


def _config_secrets(config: Mapping[str, Any], redactor: Redactor) -> list[str]:
    out: list[str] = []
    for section, harmless in _SECRET_SECTIONS.items():
        value = config.get(section)
        if isinstance(value, Mapping):
            out += [v for k, v in value.items() if k not in harmless and isinstance(v, str)]
    tls = config.get("tls")
    if isinstance(tls, Mapping):
        out += [v for k, v in tls.items() if k in _TLS_SECRETS and isinstance(v, str)]
    headers = config.get("headers")
    if isinstance(headers, Mapping):
        out += [v for k, v in headers.items() if isinstance(v, str) and redactor._sensitive_header(str(k))]
    auth = config.get("auth")
    if isinstance(auth, Mapping) and auth.get("type") == "api_key" and isinstance(auth.get("keyName"), str):
        target = redactor.query if auth.get("placement") == "query" else redactor.headers
        if isinstance(target, frozenset):
            if target is redactor.query:
                redactor.query = target | {auth["keyName"].lower()}
            else:
                redactor.headers = target | {auth["keyName"].lower()}
    out += list(_named_secrets(config))
    return out


def _named_secrets(value: Any, depth: int = 0) -> Iterable[str]:
    """Anywhere in the config: a string under a key that names a secret."""
    if depth > 8:
        return
    if isinstance(value, Mapping):
        for k, v in value.items():
            if (isinstance(v, str) and _SENSITIVE_NAME.search(str(k)) and k not in _HARMLESS
                    and not str(k).endswith(("Path", "Url"))):
                yield v
            elif isinstance(v, (Mapping, list)):
                yield from _named_secrets(v, depth + 1)
    elif isinstance(value, list):
        for v in value:
            yield from _named_secrets(v, depth + 1)


def _render(value: str, env: Mapping[str, str], config_env: Mapping[str, Any] | None) -> str:
    if "{{" not in value and "{%" not in value:
        return value
    try:
        from sansio_core.templating import TemplateEngine

        return TemplateEngine.from_env(env, config_env).render(value, {})
    except Exception:  # a template that needs call vars: its literal parts are not secrets
        return ""
