"""Provider entries and the HTTP provider config, validated once at load time.

A promptfoo provider entry is ``{id, config, label}``. For HTTP targets the
config is modelled here with promptfoo's camelCase keys (reference table plus
the sections on auth, TLS, sessions, tools, multipart and signatures), so a
config written for promptfoo loads unchanged. Where promptfoo silently drops
what it does not know, promptwire refuses it and suggests the key that was
probably meant; options that nobody implements yet are refused by name
(``NOT_SUPPORTED_YET``) rather than ignored. WebSocket entries are only
recognised here; their config is validated by ``ws_config``.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..errors import ConfigError

Code = Union[str, Callable[..., Any]]
"""An option that takes code: a JavaScript string, ``file://...``, or (library use) a Python callable."""

# Options that are modelled (so a valid config parses) but that no part of
# promptwire implements yet. Each is refused at load time, by name. Keys are
# dotted paths into the config; ``path=value`` matches only that value. Shrink
# this dict as features land.
NOT_SUPPORTED_YET: dict[str, str] = {}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, populate_by_name=True)


# -- auth (reference: Authentication Options Reference) ---------------------------------


class BearerAuth(_Strict):
    type: Literal["bearer"]
    token: str


class BasicAuth(_Strict):
    type: Literal["basic"]
    username: str
    password: str


class ApiKeyAuth(_Strict):
    type: Literal["api_key"]
    keyName: str
    value: str
    placement: Literal["header", "query"]


class OAuthAuth(_Strict):
    type: Literal["oauth"]
    grantType: Literal["client_credentials", "password"]
    tokenUrl: str
    clientId: str | None = None
    clientSecret: str | None = None
    username: str | None = None
    password: str | None = None
    scopes: list[str] | None = None

    @model_validator(mode="after")
    def _grant_fields(self) -> OAuthAuth:
        if self.grantType == "client_credentials" and (self.clientId is None or self.clientSecret is None):
            raise ValueError("grantType client_credentials needs clientId and clientSecret")
        if self.grantType == "password" and (self.username is None or self.password is None):
            raise ValueError("grantType password needs username and password")
        return self


class FileAuth(_Strict):
    type: Literal["file"]
    path: str


Auth = Annotated[Union[BearerAuth, BasicAuth, ApiKeyAuth, OAuthAuth, FileAuth], Field(discriminator="type")]


# -- TLS (reference: TLS Configuration Options) -----------------------------------------


class TlsConfig(_Strict):
    ca: str | list[str] | None = None
    caPath: str | None = None
    cert: str | list[str] | None = None
    certPath: str | None = None
    key: str | list[str] | None = None
    keyPath: str | None = None
    pfx: str | bytes | None = None
    pfxPath: str | None = None
    jksPath: str | None = None
    jksContent: str | None = None
    keyAlias: str | None = None
    keystorePassword: str | None = None  # what promptfoo's unreachable JKS-for-TLS code reads
    passphrase: str | None = None
    rejectUnauthorized: bool = True
    servername: str | None = None
    ciphers: str | None = None
    secureProtocol: str | None = None
    minVersion: str | None = None
    maxVersion: str | None = None

    @model_validator(mode="after")
    def _cert_and_key(self) -> TlsConfig:
        if self.pfx is None and self.pfxPath is None:
            has_cert = self.cert is not None or self.certPath is not None
            has_key = self.key is not None or self.keyPath is not None
            if has_cert != has_key:
                raise ValueError(
                    "both a client certificate (cert/certPath) and its key (key/keyPath) are needed "
                    "for client certificate authentication (unless using PFX)"
                )
        return self


# -- signature auth, session endpoint, multipart, token estimation ----------------------


class SignatureAuth(_Strict):
    type: Literal["pem", "jks", "pfx"] | None = None
    privateKeyPath: str | None = None
    privateKey: str | None = None
    keystorePath: str | None = None
    keystoreContent: str | None = None
    keystorePassword: str | None = None
    keyAlias: str | None = None
    pfxPath: str | None = None
    pfxPassword: str | None = None
    pfxContent: str | None = None
    certPath: str | None = None
    keyPath: str | None = None
    certContent: str | None = None
    keyContent: str | None = None
    certificateFilename: str | None = None
    certificateContent: str | None = None
    certificatePassword: str | None = None
    clientId: str | None = None
    signatureValidityMs: int = Field(default=300_000, gt=0)
    signatureAlgorithm: str = "SHA256"
    signatureDataTemplate: str = "{{signatureTimestamp}}"
    signatureRefreshBufferMs: int | None = Field(default=None, ge=0)


class SessionEndpoint(_Strict):
    url: str
    method: Literal["GET", "POST"] = "POST"
    headers: dict[str, str] | None = None
    body: dict[str, Any] | str | None = None
    responseParser: Code


class MultipartField(_Strict):
    kind: Literal["field"]
    name: str
    value: str | int | float | bool


class GeneratedSource(_Strict):
    type: Literal["generated"]
    generator: Literal["basic-document"] | None = None
    format: Literal["pdf", "png", "jpeg", "jpg"] = "pdf"
    text: str | None = None


class PathSource(_Strict):
    type: Literal["path"]
    path: str


class MultipartFile(_Strict):
    kind: Literal["file"]
    name: str
    filename: str | None = None
    filenameTemplate: str | None = None
    contentType: str | None = None
    source: Annotated[Union[GeneratedSource, PathSource], Field(discriminator="type")]


class Multipart(_Strict):
    parts: list[Annotated[Union[MultipartField, MultipartFile], Field(discriminator="kind")]] = Field(min_length=1)


class TokenEstimation(_Strict):
    enabled: bool = False
    multiplier: float = Field(default=1.3, ge=0.01)


# -- the HTTP provider config ------------------------------------------------------------


class HttpProviderConfig(_Strict):
    """promptfoo's HTTP provider options (camelCase, as in YAML). Unknown keys are errors."""

    url: str | None = None
    request: str | None = None
    useHttps: bool | None = None
    method: str | None = None
    headers: dict[str, str] | None = None
    body: dict[str, Any] | list[Any] | str | None = None
    multipart: Multipart | None = None
    queryParams: dict[str, str] | None = None
    transformRequest: Code | None = None
    transformResponse: Code | None = None
    responseParser: Code | None = None
    tokenEstimation: TokenEstimation | None = None
    maxRetries: int | None = Field(default=None, ge=0)
    validateStatus: Code | None = None
    auth: Auth | None = None
    signatureAuth: SignatureAuth | None = None
    tls: TlsConfig | None = None
    session: SessionEndpoint | None = None
    sessionParser: Code | None = None
    sessionSource: Literal["client", "server", "endpoint"] | None = None
    stateful: bool | None = None
    tools: list[Any] | None = None
    tool_choice: Any = None
    transformToolsFormat: Literal["openai", "anthropic", "bedrock", "google"] | None = None
    # promptwire extension (user-asks H.20): a per-target total deadline in ms.
    # promptfoo's HTTP provider has only the global REQUEST_TIMEOUT_MS.
    timeoutMs: int | None = Field(default=None, gt=0)
    env: dict[str, str | int | float | bool] | None = None


# -- provider entries --------------------------------------------------------------------

Kind = Literal["http", "websocket"]
_ENTRY_KEYS = ("id", "label", "config", "env")
_WS_IDS = ("websocket", "ws", "wss")
_HTTP_IDS = ("http", "https")


@dataclass(frozen=True)
class ProviderEntry:
    """One provider of a config. ``config`` is the validated model for HTTP entries only;
    ``raw_config`` is the config mapping as written (WebSocket entries are validated by
    ``ws_config`` from it)."""

    id: str
    kind: Kind
    label: str | None = None
    config: HttpProviderConfig | None = None
    raw_config: Mapping[str, Any] = field(default_factory=dict)
    env: Mapping[str, Any] | None = None

    @property
    def http(self) -> HttpProviderConfig:
        """The HTTP config; ``ConfigError`` for a WebSocket entry."""
        if self.config is None:
            raise ConfigError(f"provider {self.id!r} is a {self.kind} target, not an HTTP one", "id")
        return self.config

    @property
    def url_template(self) -> str:
        """``config.url || id``: the (still unrendered) URL of an HTTP target."""
        config = self.config
        return config.url if config is not None and config.url else self.id


def provider_kind(provider_id: str) -> Kind:
    """``http`` for http(s) ids, ``websocket`` for ws(s) ids; ``ConfigError`` otherwise."""
    lowered = provider_id.strip().lower()
    if lowered in _HTTP_IDS or lowered.startswith(("http:", "https:")):
        return "http"
    if lowered in _WS_IDS or lowered.startswith(("ws:", "wss:", "websocket:")):
        return "websocket"
    raise ConfigError(
        f"cannot identify provider {provider_id!r}: promptwire handles http/https ids (or a URL) "
        "and ws/wss ids (or a ws:// URL)",
        "id",
    )


def parse_provider_entry(raw: Mapping[str, Any] | str, where: str = "") -> ProviderEntry:
    """Validate one provider entry (a mapping, or a bare id string)."""
    if isinstance(raw, str):
        raw = {"id": raw}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"a provider entry must be a mapping or an id string, not {_type_name(raw)}", where)
    raw = _unwrap_options_map(raw)
    for key in raw:
        if key not in _ENTRY_KEYS:
            raise ConfigError(_unknown_key_message(str(key), _ENTRY_KEYS), _join(where, str(key)))
    provider_id = raw.get("id")
    if not isinstance(provider_id, str) or not provider_id.strip():
        raise ConfigError("a provider entry needs an `id` string (http, https, a URL, ws or wss)",
                          _join(where, "id"))
    label = raw.get("label")
    if label is not None and not isinstance(label, str):
        raise ConfigError(f"expected a string, got {_type_name(label)}", _join(where, "label"))
    config = raw.get("config")
    if config is None:
        config = {}
    if not isinstance(config, Mapping):
        raise ConfigError(f"expected a mapping, got {_type_name(config)}", _join(where, "config"))
    env = raw.get("env")
    if env is not None and not isinstance(env, Mapping):
        raise ConfigError(f"expected a mapping, got {_type_name(env)}", _join(where, "env"))
    kind = provider_kind(provider_id)
    if kind == "websocket":
        return ProviderEntry(provider_id, kind, label, None, dict(config), env)
    model = parse_http_config(config, _join(where, "config"))
    check_http_config(provider_id, model, _join(where, "config"))
    return ProviderEntry(provider_id, kind, label, model, dict(config), env)


def provider_entries(doc: Any) -> list[ProviderEntry]:
    """The provider entries of a loaded document.

    Accepts one entry (mapping or id string), a list of entries, or a promptfoo
    config with ``providers:`` (or ``targets:``, its red-team spelling).
    """
    where = ""
    if isinstance(doc, Mapping) and "id" not in doc:
        for key in ("providers", "targets"):
            if key in doc:
                doc, where = doc[key], key
                break
        else:
            if not _looks_like_options_map(doc):
                raise ConfigError("no provider here: expected an entry with `id`, a list of entries, "
                                  "or a config with `providers:`")
    if doc is None:
        raise ConfigError("no providers configured", where)
    items = doc if isinstance(doc, list) else [doc]
    if not items:
        raise ConfigError("no providers configured", where)
    return [
        parse_provider_entry(item, f"{where}[{i}]" if isinstance(doc, list) else where)
        for i, item in enumerate(items)
    ]


def _looks_like_options_map(raw: Mapping[str, Any]) -> bool:
    return len(raw) == 1 and isinstance(next(iter(raw.values())), Mapping) and "id" not in raw


def _unwrap_options_map(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    """promptfoo's ``{"<id>": {config: ...}}`` form becomes ``{id: "<id>", config: ...}``."""
    if "id" not in raw and _looks_like_options_map(raw):
        (provider_id, options), = raw.items()
        if isinstance(provider_id, str) and not any(k in _ENTRY_KEYS for k in raw):
            return {"id": provider_id, **options}
    return raw


# -- validation and error messages -------------------------------------------------------


def parse_http_config(raw: Mapping[str, Any], where: str = "config") -> HttpProviderConfig:
    """Validate an HTTP config mapping; the first problem becomes a ``ConfigError`` naming its key."""
    try:
        return HttpProviderConfig.model_validate(dict(raw))
    except ValidationError as err:
        raise _config_error(err, raw, where) from None


def check_http_config(provider_id: str, config: HttpProviderConfig, where: str = "config") -> None:
    """Cross-field rules and not-yet-supported options (schema-valid configs only)."""
    raw = config.model_dump(exclude_unset=True)
    for key, what in NOT_SUPPORTED_YET.items():
        path, _, wanted = key.partition("=")
        found, value = _lookup(raw, path.split("."))
        if found and value is not None and (not wanted or value == wanted):
            raise ConfigError(f"{what} is not supported yet by promptwire", _join(where, path))
    if config.multipart is not None and config.request is not None:
        raise ConfigError("HTTP provider config cannot include both request and multipart", where)
    if config.multipart is not None and config.body is not None:
        raise ConfigError("HTTP provider config cannot include both body and multipart", where)
    if config.request is None and not config.url and provider_id.strip().lower() in _HTTP_IDS:
        raise ConfigError(
            f"no URL to call: provider id {provider_id!r} needs `config.url` (or use the URL as the id, "
            "or a raw `request`)",
            where,
        )


def _lookup(raw: Any, path: list[str]) -> tuple[bool, Any]:
    node = raw
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _join(where: str, key: str) -> str:
    if not where:
        return key
    return f"{where}{key}" if key.startswith("[") else f"{where}.{key}"


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "mapping"
    if isinstance(value, (list, tuple)):
        return "list"
    return type(value).__name__


def _unknown_key_message(key: str, known: Any) -> str:
    options = sorted(str(k) for k in known)
    close = difflib.get_close_matches(key, options, n=1, cutoff=0.6)
    if not close:
        lowered = {o.lower(): o for o in options}
        if key.lower() in lowered:
            close = [lowered[key.lower()]]
    hint = f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(options)})"
    return f"unknown option {key!r}{hint}"


_PRETTY = {
    "string_type": "expected a string",
    "int_type": "expected an integer",
    "int_from_float": "expected an integer",
    "float_type": "expected a number",
    "bool_type": "expected true or false",
    "dict_type": "expected a mapping",
    "list_type": "expected a list",
    "model_type": "expected a mapping",
    "model_attributes_type": "expected a mapping",
    "missing": "this option is required",
    "callable_type": "expected a function",
}


def _config_error(err: ValidationError, raw: Mapping[str, Any], where: str) -> ConfigError:
    errors = err.errors(include_url=False)
    # An unknown key is the most useful thing to report; then the first error with the
    # shortest path (union members produce one error per member for the same value).
    errors.sort(key=lambda e: (e["type"] != "extra_forbidden", len(_clean_loc(e["loc"]))))
    first = errors[0]
    loc = _clean_loc(first["loc"])
    path = where
    for part in loc:
        path = _join(path, f"[{part}]" if isinstance(part, int) else str(part))
    value = first.get("input")
    if first["type"] == "extra_forbidden":
        parent_model = _model_at(HttpProviderConfig, loc[:-1], raw)
        known = list(parent_model.model_fields) if parent_model is not None else []
        return ConfigError(_unknown_key_message(str(loc[-1]), known), path)
    if first["type"] == "union_tag_invalid" or first["type"] == "union_tag_not_found":
        return ConfigError(first["msg"], path)
    message = _PRETTY.get(first["type"], first["msg"])
    same_place = [e for e in errors if _clean_loc(e["loc"]) == loc and e["type"] in _PRETTY]
    if len(same_place) > 1 and first["type"] in _PRETTY:
        wanted = []
        for e in same_place:
            text = _PRETTY[e["type"]].removeprefix("expected ")
            if text not in wanted:
                wanted.append(text)
        message = "expected " + (", ".join(wanted[:-1]) + " or " + wanted[-1] if len(wanted) > 1 else wanted[0])
    if first["type"] == "value_error":
        message = first["msg"].removeprefix("Value error, ")
    elif first["type"] != "missing":
        message = f"{message}, got {_type_name(value)} {_short(value)}"
    return ConfigError(message, path)


def _clean_loc(loc: tuple[Any, ...]) -> list[Any]:
    """Drop pydantic's union member tags (``str``, ``function-plain[...]``, discriminator values)."""
    out: list[Any] = []
    for part in loc:
        if isinstance(part, str) and (
            part in ("str", "int", "float", "bool", "bytes", "list[str]", "list[any]", "dict[str,any]",
                     "callable", "is-instance[Callable]")
            or part.startswith(("function-", "literal[", "dict[", "list["))
        ):
            continue
        out.append(part)
    # discriminated unions add the tag value (e.g. 'bearer') after the field name
    cleaned: list[Any] = []
    for i, part in enumerate(out):
        previous = out[i - 1] if i else None
        if part in _TAGS and (previous in ("auth", "source") or isinstance(previous, int)):
            continue
        cleaned.append(part)
    return cleaned


_TAGS = frozenset({"bearer", "basic", "api_key", "oauth", "file", "generated", "path", "field"})


def _model_at(model: type[BaseModel], loc: list[Any], raw: Any) -> type[BaseModel] | None:
    """The model class that owns the key at ``loc`` (to list its options in a did-you-mean)."""
    annotation: Any = model
    node = raw
    for part in loc:
        if isinstance(part, int):
            node = node[part] if isinstance(node, list) and part < len(node) else None
            continue
        owner = _pick_model(annotation, node)
        info = owner.model_fields.get(part) if owner is not None else None
        if info is None:
            return None
        node = node.get(part) if isinstance(node, Mapping) else None
        annotation = info.annotation
    picked = _pick_model(annotation, node)
    return picked if isinstance(picked, type) and issubclass(picked, BaseModel) else None


def _pick_model(annotation: Any, node: Any) -> Any:
    """The BaseModel inside ``annotation`` that matches ``node`` (by its ``type``/``kind`` tag)."""
    candidates: list[type[BaseModel]] = []

    def walk(tp: Any) -> None:
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            candidates.append(tp)
            return
        for arg in getattr(tp, "__args__", ()) or ():
            walk(arg)
        meta = getattr(tp, "__metadata__", None)
        if meta is not None:
            walk(getattr(tp, "__origin__", None))

    walk(annotation)
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    if isinstance(node, Mapping):
        for cand in candidates:
            for tag in ("type", "kind"):
                fld = cand.model_fields.get(tag)
                if fld is not None and node.get(tag) in getattr(fld.annotation, "__args__", ()):
                    return cand
    return candidates[0]


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


__all__ = [
    "NOT_SUPPORTED_YET",
    "ApiKeyAuth",
    "BasicAuth",
    "BearerAuth",
    "Code",
    "FileAuth",
    "HttpProviderConfig",
    "Multipart",
    "OAuthAuth",
    "ProviderEntry",
    "SessionEndpoint",
    "SignatureAuth",
    "TlsConfig",
    "TokenEstimation",
    "check_http_config",
    "parse_http_config",
    "parse_provider_entry",
    "provider_entries",
    "provider_kind",
]
