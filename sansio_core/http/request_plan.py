"""From an HTTP target's config and one call's vars to the exact request to send.

``RequestPlan.compile`` does everything that depends only on the target
(templates compiled, header names lower-cased, static URL parsed, ``file://``
bodies loaded, load-time checks); ``RequestPlan.build`` renders what varies per
call and returns a ``PreparedRequest``. The rules are promptfoo's (spec
sections 4-8 and 14) with the documented divergences of ``docs/compat.md``:
a body without ``method`` is POSTed, a string body defaults to ``text/plain``,
a GET/HEAD with a body is a config error, an object from ``transformRequest``
is merged over the *rendered* body, an array from it goes where an object body
says ``{{prompt}}``, and promptwire's own identity headers
replace ``x-promptfoo-version``.
"""

from __future__ import annotations

import csv
import io
import posixpath
import random
from collections.abc import Mapping
from typing import Any

import yaml

from ..auth.static import StaticAuth, url_credentials
from ..config.provider import ProviderEntry
from ..errors import ConfigError, TemplateError, UrlError
from ..js.jsvalue import js_json, js_json_parse, js_trim
from ..sources import FILE_PREFIX, Sources, split_file_ref
from ..templating import Template, TemplateEngine
from .json_body import JsonBody, parse_json_strings
from .message import (
    BODYLESS_METHODS,
    GET_WITH_BODY,
    HTTP_WS,
    IDENTITY_HEADERS,
    MANAGED_HEADERS,
    OBJECT_BODY_NOT_JSON,
    TOKEN,
    UNCHANGED,
    USER_AGENT,
    check_header_name,
    clean_header_value,
    content_type_is_json,
    encode_body,
    finish_headers,
    header_bytes,
    json_escaped_vars,
    normalize_method,
    url_for_messages,
)
from .multipart import MultipartPlan
from .prepared import PreparedRequest
from .raw_request import RawRequestPlan
from .urls import Url, parse_url

# -- file:// values inside a body (spec 1.5.6) ---------------------------------------------


def load_file_value(ref: str, sources: Sources, where: str) -> Any:
    """The content a ``file://`` body value stands for: parsed JSON/YAML, CSV records, or text."""
    path, _ = split_file_ref(ref)
    data = sources.files.get(path)
    if data is None:
        raise ConfigError(f"{ref!r} was not loaded (the binding must read it into Sources.files)", where)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{ref!r} is not UTF-8 text", where) from None
    ext = posixpath.splitext(path)[1].lower()
    try:
        if ext == ".json":
            return js_json_parse(text)
        if ext in (".yaml", ".yml"):
            return yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as err:
        raise ConfigError(f"cannot parse {ref!r}: {err}", where) from None
    if ext == ".csv":
        rows = list(csv.DictReader(io.StringIO(text)))
        if rows and len(rows[0]) == 1:
            return [next(iter(row.values())) for row in rows]
        return rows
    return text


def resolve_file_refs(value: Any, sources: Sources, where: str) -> Any:
    if isinstance(value, str):
        return load_file_value(value, sources, where) if value.startswith(FILE_PREFIX) else value
    if isinstance(value, Mapping):
        return {k: resolve_file_refs(v, sources, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_file_refs(v, sources, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def _merge_transformed(rendered: Any, transformed: Any) -> Any:
    """README rule: an object from transformRequest is merged over the rendered body."""
    if isinstance(rendered, dict) and isinstance(transformed, dict):
        return {**rendered, **transformed}
    return transformed


# -- the plan --------------------------------------------------------------------------------


class RequestPlan:
    """Everything about an HTTP target's request that does not change between calls."""

    def __init__(self) -> None:
        self._raw: Any = None
        self._url_template: Template | None = None
        self._static_url: Url | None = None
        self._method_template: Template | None = None
        self._static_method: str | None = None
        self._headers: list[tuple[str, Template]] = []
        self._dynamic_headers = False
        self._static_is_json: bool | None = None
        self._query: list[tuple[str, Template]] = []
        self._auth: StaticAuth | None = None
        self._body: Any = None
        self._has_body = False
        self._json_body: JsonBody | None = None
        self._text_body: Template | None = None
        self._url_source = ""
        self._multipart: Any = None  # a multipart.MultipartPlan for ``multipart.parts``
        # Computed once when nothing in them is templated (the usual target):
        # the header values, and the URL's parts and credentials.
        self._static_headers: dict[str, str] | None = None
        self._fixed_url: tuple[str, str, int, str, str, str, str | None] | None = None

    @classmethod
    def compile(cls, entry: ProviderEntry, engine: TemplateEngine, sources: Sources) -> RequestPlan:
        """Prepare a target's request; ``ConfigError`` for anything wrong that is knowable now."""
        config = entry.http
        plan = cls()
        plan._auth = StaticAuth.compile(config.auth, engine)
        try:
            if config.request is not None:

                plan._raw = RawRequestPlan.compile(entry, engine, sources, plan._auth)
                return plan
            plan._compile_structured(entry, engine, sources)
        except TemplateError as err:
            raise ConfigError(str(err), "config") from None
        return plan

    def credentials(self, vars: Mapping[str, Any]) -> list[str]:
        """The auth values this plan sends for ``vars`` (a target's ``Secrets.learn``s them)."""
        auth = self._auth
        if auth is None:
            return []
        return [pair[1] for pair in (auth.header(vars), auth.query(vars)) if pair is not None]

    def _compile_structured(self, entry: ProviderEntry, engine: TemplateEngine, sources: Sources) -> None:
        config = entry.http
        where_url = "config.url" if config.url else "id"
        self._url_source = entry.url_template
        self._url_template = engine.compile(entry.url_template)
        if not self._url_template.has_tags:
            try:
                self._static_url = parse_url(entry.url_template)
            except UrlError as err:
                raise ConfigError(f"not a valid URL ({err}): {entry.url_template!r}", where_url) from None

        body = config.body
        if isinstance(body, (str, list, dict)) and body != "":
            body = resolve_file_refs(body, sources, "config.body")
        self._body = body
        self._has_body = body is not None and body != ""

        if config.multipart is not None:

            self._multipart = MultipartPlan.compile(config.multipart, engine, sources)
        if config.method is not None:
            self._method_template = engine.compile(config.method)
            if not self._method_template.has_tags:
                self._static_method = self._checked_method(config.method, ConfigError)
        else:
            self._static_method = "POST" if self._has_body or self._multipart is not None else "GET"
        if self._multipart is not None and self._static_method is not None:
            _check_multipart_method(self._static_method, ConfigError)
        if self._has_body and self._static_method is not None and self._static_method.upper() in BODYLESS_METHODS:
            raise ConfigError(GET_WITH_BODY.format(method=self._static_method.upper()), "config.method")

        # Header names are never templates; values are rendered per call.
        merged: dict[str, Template] = {}
        if self._has_body:
            default_type = "application/json" if isinstance(body, (dict, list)) else "text/plain"
            merged["content-type"] = engine.compile(default_type)
        for raw_name, value in (config.headers or {}).items():
            where = f"config.headers.{raw_name}"
            name = check_header_name(raw_name, where)
            if name in MANAGED_HEADERS:
                if name == "transfer-encoding":
                    raise ConfigError("transfer-encoding is chosen by promptwire; remove this header", where)
                continue  # content-length is always computed from the body
            if name == "content-type" and self._multipart is not None:
                continue  # spec 4.5: the multipart boundary decides it
            merged.pop(name, None)  # the last case variant wins, in its own position
            template = engine.compile(value)
            if not template.has_tags:
                try:
                    clean_header_value(name, value)
                except TemplateError as err:
                    raise ConfigError(str(err), where) from None
            merged[name] = template
        self._headers = list(merged.items())
        self._dynamic_headers = any(t.has_tags for _, t in self._headers)
        if not any(t.has_tags for n, t in self._headers if n.startswith("content-type")):
            self._static_is_json = content_type_is_json({n: t.source for n, t in self._headers})
            if not self._static_is_json and isinstance(body, (dict, list)):
                raise ConfigError(OBJECT_BODY_NOT_JSON, "config.body")

        self._query = [(k, engine.compile(v)) for k, v in (config.queryParams or {}).items()]
        if not self._dynamic_headers:
            self._static_headers = {name: template.source.strip(HTTP_WS) for name, template in self._headers}
        if self._static_url is not None and not self._query and (
                self._auth is None or self._auth.placement != "query"):
            url = self._static_url
            credentials = url_credentials(url)
            if credentials is not None:
                url = url.without_credentials()
            self._fixed_url = (url.scheme, url.connect_host, url.effective_port, url.target, url.host_header,
                               url_for_messages(url), credentials)

        if self._has_body:
            self._json_body = JsonBody(body, engine)
            if isinstance(body, str):
                self._text_body = engine.compile(body)

    @staticmethod
    def _checked_method(method: str, error: type[ConfigError] | type[TemplateError]) -> str:
        if not TOKEN.match(method):
            if error is ConfigError:
                raise ConfigError(f"{method!r} is not a valid HTTP method", "config.method")
            raise TemplateError(f"method rendered to {method!r}, which is not a valid HTTP method")
        return normalize_method(method)

    @property
    def uses_randomness(self) -> bool:
        """True when ``build`` needs the call's ``rng`` (a multipart boundary)."""
        return self._multipart is not None

    @property
    def is_raw(self) -> bool:
        """True for a raw ``request:`` target (its results carry no ``raw`` or headers)."""
        return self._raw is not None

    # -- per call --------------------------------------------------------------------------

    def build(
        self,
        vars: Mapping[str, Any],
        transformed_prompt: Any = UNCHANGED,
        context: Mapping[str, Any] | None = None,
        *,
        rng: random.Random | None = None,
    ) -> PreparedRequest:
        """The request for one call. ``vars`` already holds ``prompt``.

        ``rng`` (the call's seeded randomness) draws the multipart boundary.

        Raises ``TemplateError`` when rendering fails or renders something HTTP
        forbids, ``ConfigError`` for config problems only visible per call.
        """
        if self._raw is not None:
            result: PreparedRequest = self._raw.build(vars, transformed_prompt, context)
            return result
        method = self._static_method
        if method is None:
            assert self._method_template is not None
            method = self._checked_method(self._method_template.render(vars), TemplateError)
        if self._has_body and method.upper() in BODYLESS_METHODS:
            raise ConfigError(GET_WITH_BODY.format(method=method.upper()), "config.method")
        if self._multipart is not None:
            _check_multipart_method(method, TemplateError)

        headers: dict[str, str]
        if self._static_headers is not None:
            headers = self._static_headers.copy()
        else:
            headers = {}
            for name, template in self._headers:
                if template.has_tags:
                    headers[name] = clean_header_value(name, template.render(vars))
                else:
                    headers[name] = template.source.strip(HTTP_WS)
        auth = self._auth
        if auth is not None:
            pair = auth.header(vars)
            if pair is not None:
                headers[pair[0]] = clean_header_value(pair[0], pair[1])
        is_json = self._static_is_json
        if is_json is None:
            is_json = content_type_is_json(headers)
            if not is_json and isinstance(self._body, (dict, list)):
                raise ConfigError(OBJECT_BODY_NOT_JSON, "config.body")
        if context:
            for name in ("traceparent", "tracestate"):
                value = context.get(name)
                if isinstance(value, str) and value:
                    headers[name] = clean_header_value(name, value)

        fixed = self._fixed_url
        if fixed is None:
            url = self._url(vars)
            credentials = url_credentials(url)
            if credentials is not None:
                url = url.without_credentials()
            fixed = (url.scheme, url.connect_host, url.effective_port, url.target, url.host_header,
                     url_for_messages(url), credentials)
        scheme, connect_host, port, target, host_header, message_url, credentials = fixed
        if credentials is not None:
            headers.setdefault("authorization", credentials)

        if self._multipart is not None:
            part_vars = vars if transformed_prompt is UNCHANGED else {**vars, "prompt": transformed_prompt}
            content_type, body, parts = self._multipart.build(part_vars, rng)
            headers["content-type"] = content_type
            multipart_parts: tuple[Any, ...] | None = tuple(parts)
        else:
            multipart_parts = None
            body = self._render_body(vars, transformed_prompt, is_json) if self._has_body else None
        if "host" not in headers:
            headers = {"host": host_header, **headers}
        return PreparedRequest(method, scheme, connect_host, port, target, finish_headers(headers, method, body),
                               body, message_url, multipart_parts)

    def _url(self, vars: Mapping[str, Any]) -> Url:
        url = self._static_url
        if url is None:
            assert self._url_template is not None
            rendered = self._url_template.render(vars)
            try:
                url = parse_url(rendered)
            except UrlError as err:
                raise TemplateError(
                    f"the URL template {self._url_source!r} rendered an invalid URL: {err}"
                ) from None
        pairs = [(name, template.render(vars)) for name, template in self._query]
        if self._auth is not None:
            pair = self._auth.query(vars)
            if pair is not None:
                pairs = [p for p in pairs if p[0] != pair[0]]
                pairs.append(pair)
        if pairs:
            url = url.append_params(pairs)
        return url

    def _render_body(self, vars: Mapping[str, Any], transformed: Any, is_json: bool) -> bytes | None:
        if is_json:
            assert self._json_body is not None
            if isinstance(transformed, list) and self._json_body.places_prompt:
                # An array (a chat history) goes where the object body says
                # `{{prompt}}`; the body's other fields are kept. The JSON text
                # of the array becomes structure by the JSON-string rule.
                value = self._json_body.render({**vars, "prompt": js_json(transformed)})
            elif isinstance(transformed, (dict, list)):
                value = _merge_transformed(self._json_body.render(vars), transformed)
            else:
                body_vars = vars if transformed is UNCHANGED else {**vars, "prompt": transformed}
                text = self._json_body.text(body_vars)
                if text is not None:
                    return encode_body(text)
                value = self._json_body.render(body_vars)
            if value is None:
                return None
            if isinstance(value, str):
                return encode_body(value)
            return encode_body(js_json(value))
        body_vars = vars if transformed is UNCHANGED else {**vars, "prompt": transformed}
        if self._text_body is None:
            return None
        return encode_body(js_trim(self._text_body.render(body_vars)))


def _check_multipart_method(method: str, error: type[ConfigError] | type[TemplateError]) -> None:
    if method.upper() in BODYLESS_METHODS:
        message = f"HTTP provider {method} requests cannot use multipart: set `method` to POST (the default) or PUT"
        if error is ConfigError:
            raise ConfigError(message, "config.method")
        raise TemplateError(message)


__all__ = [
    "IDENTITY_HEADERS",
    "UNCHANGED",
    "USER_AGENT",
    "RequestPlan",
    "clean_header_value",
    "content_type_is_json",
    "finish_headers",
    "header_bytes",
    "json_escaped_vars",
    "normalize_method",
    "parse_json_strings",
]
