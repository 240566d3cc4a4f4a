"""The HTTP provider config, validated once at load time.

The config is modelled here with promptfoo's camelCase keys (reference table plus
the sections on auth, TLS, sessions, tools, multipart and signatures), so a
config written for promptfoo loads unchanged. Where promptfoo silently drops
what it does not know, promptwire refuses it and suggests the key that was
probably meant (``config.messages``). Provider entries are ``config.provider``;
WebSocket configs are ``config.ws``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..errors import ConfigError
from .messages import config_error

# The ids that name an HTTP target without being a URL (the URL is then ``config.url``).
HTTP_IDS = ("http", "https")

Code = Union[str, Callable[..., Any]]
"""An option that takes code: a JavaScript string, ``file://...``, or (library use) a Python callable."""

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
    # The key's own password when it differs from the keystore's (JKS; promptfoo's example).
    keyPassword: str | None = None
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
    # promptwire extension (user-asks H.19): a request-rate cap shared by every
    # concurrent call of the target (``ratelimit.RateLimiter``).
    maxRequestsPerSecond: float | None = Field(default=None, gt=0)
    maxRequestsPerMinute: float | None = Field(default=None, gt=0)
    # promptwire extension (issue 12, docs/proxies.md): an http:// proxy for this
    # target, over HTTP_PROXY/HTTPS_PROXY/ALL_PROXY/NO_PROXY.
    proxy: str | None = None
    env: dict[str, str | int | float | bool] | None = None


# -- validation -------------------------------------------------------------------------


def parse_http_config(raw: Mapping[str, Any], where: str = "config") -> HttpProviderConfig:
    """Validate an HTTP config mapping; the first problem becomes a ``ConfigError`` naming its key."""
    try:
        return HttpProviderConfig.model_validate(dict(raw))
    except ValidationError as err:
        raise config_error(err, raw, where, HttpProviderConfig) from None


def check_http_config(provider_id: str, config: HttpProviderConfig, where: str = "config") -> None:
    """Cross-field rules (schema-valid configs only)."""
    if config.multipart is not None and config.request is not None:
        raise ConfigError("HTTP provider config cannot include both request and multipart", where)
    if config.multipart is not None and config.body is not None:
        raise ConfigError("HTTP provider config cannot include both body and multipart", where)
    if config.request is None and not config.url and provider_id.strip().lower() in HTTP_IDS:
        raise ConfigError(
            f"no URL to call: provider id {provider_id!r} needs `config.url` (or use the URL as the id, "
            "or a raw `request`)",
            where,
        )


__all__ = [
    "HTTP_IDS",
    "ApiKeyAuth",
    "Auth",
    "BasicAuth",
    "BearerAuth",
    "Code",
    "FileAuth",
    "GeneratedSource",
    "HttpProviderConfig",
    "Multipart",
    "MultipartField",
    "MultipartFile",
    "OAuthAuth",
    "PathSource",
    "SessionEndpoint",
    "SignatureAuth",
    "TlsConfig",
    "TokenEstimation",
    "check_http_config",
    "parse_http_config",
]
