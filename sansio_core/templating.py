"""Nunjucks-compatible templates on jinja2's sandbox, compiled once and rendered cheaply.

promptfoo renders every templated option with Nunjucks. The parts users rely on
are reproduced here on ``jinja2.sandbox.SandboxedEnvironment``:

* an undefined variable or attribute renders as ``""``, is falsy, iterates as
  empty and never raises (Nunjucks ``throwOnUndefined: false``);
* values are printed the way JavaScript's ``String(value)`` prints them
  (``[object Object]``, ``1,2``, ``true``, ``3`` for ``3.0``);
* ``obj.key`` on a mapping reads the key, never a Python attribute, so a var
  with an ``items`` key behaves as in JavaScript (and the sandbox surface stays small);
* Nunjucks filters jinja lacks or spells differently (``dump``, ``load``,
  ``urlencode``, ``nl2br``, JS-flavoured ``join``/``string``/``escape``);
* the ``env`` global (process environment overlaid with the config's ``env``).

Nothing here reads the real environment: the binding passes the mapping in.
Templates are cached by source text per engine, so a target compiles each
option once and the hot path only calls ``Template.render``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from jinja2 import ChainableUndefined, Undefined, nodes
from jinja2 import exceptions as jexc

from .errors import PromptwireError, TemplateError
from .js.jsvalue import js_json, js_json_parse, js_key, js_string, js_trim
from .limits import MAX_RENDERED_TEMPLATE, MAX_TEMPLATE_CACHE
from .template_sandbox import (
    BUDGET,
    CONCAT,
    BoundedSandbox,
    Budget,
    attach,
    bounded_output,
    checked_width_filter,
    concat,
)

TAG_MARKERS = ("{{", "{%", "{#")

# promptfoo's getEnvBool: these spellings (any case) mean true.
_TRUTHY = frozenset({"1", "true", "yes", "yup", "yeppers"})


def env_flag(env: Mapping[str, str], name: str, default: bool = False) -> bool:
    """A boolean environment switch read the way promptfoo reads it."""
    value = env.get(name)
    if value is None:
        return default
    return str(value).strip().lower() in _TRUTHY


def has_tags(source: str) -> bool:
    """Whether ``source`` would be changed by rendering at all."""
    return "{" in source and any(marker in source for marker in TAG_MARKERS)


# -- the Nunjucks flavour of jinja -------------------------------------------------------


class JsUndefined(ChainableUndefined):
    """Nunjucks' undefined: prints empty, chains through attributes, never raises on use."""

    __slots__ = ()

    def __str__(self) -> str:
        return ""

    def __len__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return "undefined"


def print_value(value: Any) -> str:
    """How Nunjucks prints a value: JavaScript ``String()``, except that null and
    undefined print as ``""``."""
    if value is None or isinstance(value, Undefined):
        return ""
    return js_string(value)


def _finalize(value: Any) -> str:
    return print_value(value)


def _f_dump(value: Any, indent: int | str | None = None) -> Any:
    if isinstance(value, Undefined):
        return value
    return js_json(value, indent)


def _f_load(value: Any) -> Any:
    return js_json_parse(print_value(value))


_URI_COMPONENT_SAFE = "-_.!~*'()"


def _encode_uri_component(value: Any) -> str:
    return quote(print_value(value), safe=_URI_COMPONENT_SAFE)


def _f_urlencode(value: Any) -> str:
    if isinstance(value, str):
        return _encode_uri_component(value)
    if isinstance(value, Mapping):
        pairs: list[Any] = list(value.items())
    elif isinstance(value, (list, tuple)):
        pairs = list(value)
    else:
        return _encode_uri_component(value)
    out = []
    for pair in pairs:
        key, val = (pair[0], pair[1]) if isinstance(pair, (list, tuple)) and len(pair) >= 2 else (pair, "")
        out.append(f"{_encode_uri_component(key)}={_encode_uri_component(val)}")
    return "&".join(out)


def _f_join(value: Any, d: str = "", attribute: Any = None) -> str:
    if isinstance(value, Undefined) or value is None:
        return ""
    items = list(value)
    if attribute is not None:
        items = [item.get(attribute) if isinstance(item, Mapping) else getattr(item, str(attribute), None)
                 for item in items]
    return print_value(d).join("" if item is None or isinstance(item, Undefined) else print_value(item)
                             for item in items)


_ESCAPES = {"&": "&amp;", '"': "&quot;", "'": "&#39;", "<": "&lt;", ">": "&gt;", "\\": "&#92;"}
_ESCAPE_TABLE = str.maketrans(_ESCAPES)


def _f_escape(value: Any) -> str:
    return print_value(value).translate(_ESCAPE_TABLE)


def _f_nl2br(value: Any) -> str:
    return print_value(value).replace("\r\n", "<br />\n").replace("\n", "<br />\n")


def _string_filter(fn: Callable[[str], str]) -> Callable[[Any], str]:
    def apply(value: Any) -> str:
        return fn(print_value(value))

    return apply


def _f_capitalize(text: str) -> str:
    return text[:1].upper() + text[1:].lower()


def _f_title(text: str) -> str:
    return " ".join(word[:1].upper() + word[1:].lower() for word in text.split(" "))


class NunjucksEnvironment(BoundedSandbox):
    """A sandboxed jinja environment that reads mappings like JavaScript objects,
    with every render bounded (``template_sandbox``)."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, Mapping):
            try:
                return obj[attribute]
            except (KeyError, TypeError):
                return self.undefined(obj=obj, name=attribute)
        if attribute == "length" and isinstance(obj, (str, list, tuple)):
            return len(obj)
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(obj, Mapping):
            try:
                return obj[argument]
            except (KeyError, TypeError):
                pass
            if not isinstance(argument, str):
                try:
                    return obj[js_key(argument)]
                except (KeyError, TypeError):
                    pass
            return self.undefined(obj=obj, name=argument)
        if argument == "length" and isinstance(obj, (str, list, tuple)):
            return len(obj)
        return super().getitem(obj, argument)


def _make_environment(env_global: Mapping[str, Any]) -> NunjucksEnvironment:
    environment = NunjucksEnvironment(
        autoescape=False,
        undefined=JsUndefined,
        finalize=_finalize,
        keep_trailing_newline=True,  # Nunjucks keeps the final newline; jinja strips it by default
        cache_size=0,  # we cache compiled templates ourselves, keyed by source
        auto_reload=False,
    )
    # Nondeterministic helpers would make the core impure: random draws from the
    # module-level generator, lipsum likewise.
    environment.filters.pop("random", None)
    environment.globals.pop("lipsum", None)
    environment.filters.update(
        {
            "dump": _f_dump,
            "load": _f_load,
            "urlencode": _f_urlencode,
            "join": _f_join,
            "string": print_value,
            "escape": _f_escape,
            "e": _f_escape,
            "forceescape": _f_escape,
            "nl2br": _f_nl2br,
            "upper": _string_filter(str.upper),
            "lower": _string_filter(str.lower),
            "trim": _string_filter(js_trim),
            "capitalize": _string_filter(_f_capitalize),
            "title": _string_filter(_f_title),
        }
    )
    for name in ("center", "indent", "truncate", "wordwrap", "format", "replace"):
        environment.filters[name] = checked_width_filter(environment.filters[name])
    environment.globals[CONCAT] = concat
    environment.globals["env"] = env_global
    environment.globals["null"] = None
    environment.globals["undefined"] = environment.undefined()
    return environment


def _snippet(source: str, limit: int = 120) -> str:
    return repr(source if len(source) <= limit else source[:limit] + "...")


# -- compiled templates ------------------------------------------------------------------


_SIMPLE_EXPR = re.compile(r"\{\{\s*([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\s*\}\}")
# Names jinja reads as literals or operators, never as variables.
_NOT_VARIABLES = frozenset({"true", "false", "none", "True", "False", "None", "and", "or", "not", "in", "is",
                            "if", "else"})


def _simple_parts(source: str) -> list[str | tuple[str, ...]] | None:
    """Literal text and plain ``{{ a.b.c }}`` lookups, or None if the template needs jinja."""
    if "{%" in source or "{#" in source:
        return None
    parts: list[str | tuple[str, ...]] = []
    pos = 0
    for m in _SIMPLE_EXPR.finditer(source):
        literal = source[pos:m.start()]
        if "{{" in literal or "}}" in literal:
            return None
        if literal:
            parts.append(literal)
        path = tuple(m.group(1).split("."))
        if path[0] in _NOT_VARIABLES:
            return None
        parts.append(path)
        pos = m.end()
    tail = source[pos:]
    if "{{" in tail or "}}" in tail:
        return None
    if tail:
        parts.append(tail)
    return parts


class Template:
    """One compiled template. ``render`` is the hot path: no compilation, no copies.

    Templates made only of text and plain ``{{ name.attr }}`` lookups (almost
    all of them: ``{{prompt}}``, ``Bearer {{env.TOKEN}}``) are rendered by
    direct lookups with the same semantics, skipping jinja's per-render
    context setup; everything else goes through jinja.
    """

    __slots__ = ("_compiled", "_environment", "_simple", "has_tags", "source")

    def __init__(self, source: str, compiled: Any | None, environment: NunjucksEnvironment | None = None,
                 simple: list[str | tuple[str, ...]] | None = None) -> None:
        self.source = source
        self._compiled = compiled
        self._environment = environment
        self._simple = simple
        self.has_tags = compiled is not None

    def render(self, vars: Mapping[str, Any]) -> str:
        """Render with ``vars``; raises ``TemplateError`` naming the template on failure."""
        compiled = self._compiled
        if compiled is None:
            return self.source
        simple = self._simple
        if simple is not None:
            out = "".join(part if isinstance(part, str) else self._lookup(part, vars) for part in simple)
        else:
            try:
                budget = Budget()
                ctx = compiled.new_context(vars)
                attach(ctx, budget)
                out = bounded_output(compiled.root_render_func(ctx), budget, _snippet(self.source))
            except PromptwireError:
                raise
            except RecursionError:
                raise TemplateError(f"template recursion too deep in {_snippet(self.source)}") from None
            except Exception as err:  # any failure inside user template code
                raise TemplateError(
                    f"failed to render template {_snippet(self.source)}: {_describe(err)}"
                ) from None
        if len(out) > MAX_RENDERED_TEMPLATE:
            raise TemplateError(
                f"template {_snippet(self.source)} rendered {len(out)} characters, "
                f"more than the limit of {MAX_RENDERED_TEMPLATE}"
            )
        return out

    def _lookup(self, path: tuple[str, ...], vars: Mapping[str, Any]) -> str:
        environment = self._environment
        assert environment is not None
        name = path[0]
        if name in vars:
            value = vars[name]
        else:
            value = environment.globals.get(name, _MISSING)
            if value is _MISSING:
                return ""
        for attr in path[1:]:
            if value is None or isinstance(value, Undefined):
                return ""
            value = environment.getattr(value, attr)
        return print_value(value)


_MISSING = object()


def _describe(err: BaseException) -> str:
    if isinstance(err, jexc.TemplateSyntaxError):
        return f"{err.message} (line {err.lineno})"
    name = type(err).__name__
    text = str(err)
    return f"{name}: {text}" if text else name


class ObjectTemplate:
    """promptfoo's ``renderVarsInObject``: every string rendered, containers walked (values only).

    Static subtrees are returned as the very objects given at compile time, so
    the result must be treated as read-only.
    """

    __slots__ = ("_render", "dynamic", "value")

    def __init__(self, value: Any, render: Callable[[Mapping[str, Any]], Any] | None) -> None:
        self.value = value
        self._render = render
        self.dynamic = render is not None

    def render(self, vars: Mapping[str, Any]) -> Any:
        if self._render is None:
            return self.value
        return self._render(vars)


class TemplateEngine:
    """Compiles and caches templates for one configuration (its env and switches).

    Not thread-safe by contract: one target owns one engine, like the rest of
    the core. ``disabled`` reproduces ``PROMPTFOO_DISABLE_TEMPLATING`` (every
    template returned unchanged).
    """

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        disabled: bool = False,
        config_env: Mapping[str, Any] | None = None,
        env_vars_disabled: bool = False,
    ) -> None:
        env_global: dict[str, Any] = {}
        if not env_vars_disabled:
            env_global.update(env or {})
            env_global.update(config_env or {})
        self.env_global = env_global
        self.disabled = disabled
        self._environment = _make_environment(env_global)
        self._cache: dict[str, Template] = {}

    @classmethod
    def from_env(cls, env: Mapping[str, str], config_env: Mapping[str, Any] | None = None) -> TemplateEngine:
        """An engine configured by the ``PROMPTFOO_DISABLE_*`` switches found in ``env``."""
        disabled = env_flag(env, "PROMPTFOO_DISABLE_TEMPLATING")
        self_hosted = env_flag(env, "PROMPTFOO_SELF_HOSTED")
        env_vars_disabled = env_flag(env, "PROMPTFOO_DISABLE_TEMPLATE_ENV_VARS", self_hosted)
        return cls(env, disabled=disabled, config_env=config_env, env_vars_disabled=env_vars_disabled)

    def compile(self, source: str) -> Template:
        """The compiled template for ``source`` (cached); ``TemplateError`` on a syntax error."""
        cached = self._cache.get(source)
        if cached is not None:
            return cached
        if not isinstance(source, str):
            raise TemplateError(f"a template must be a string, not {type(source).__name__}")
        compiled: Any | None = None
        if not self.disabled and has_tags(source):
            try:
                compiled = self._environment.from_string(source)
            except jexc.TemplateSyntaxError as err:
                raise TemplateError(
                    f"template syntax error in {_snippet(source)}: {err.message} (line {err.lineno})"
                ) from None
            except Exception as err:
                raise TemplateError(f"cannot compile template {_snippet(source)}: {_describe(err)}") from None
        simple = _simple_parts(source) if compiled is not None else None
        template = Template(source, compiled, self._environment, simple)
        if len(self._cache) >= MAX_TEMPLATE_CACHE:
            self._cache.clear()
        self._cache[source] = template
        return template

    def render(self, source: str, vars: Mapping[str, Any]) -> str:
        """Compile (cached) and render in one step."""
        return self.compile(source).render(vars)

    def compile_object(self, value: Any) -> ObjectTemplate:
        """Compile every string inside ``value`` (lists and mappings walked, keys untouched)."""
        render = self._compile_node(value)
        return ObjectTemplate(value, render)

    def _compile_node(self, value: Any) -> Callable[[Mapping[str, Any]], Any] | None:
        if isinstance(value, str):
            template = self.compile(value)
            return template.render if template.has_tags else None
        if isinstance(value, Mapping):
            parts = [(key, item, self._compile_node(item)) for key, item in value.items()]
            if all(fn is None for _, _, fn in parts):
                return None

            def render_mapping(vars: Mapping[str, Any]) -> Any:
                return {key: (item if fn is None else fn(vars)) for key, item, fn in parts}

            return render_mapping
        if isinstance(value, (list, tuple)):
            elements = [(item, self._compile_node(item)) for item in value]
            if all(fn is None for _, fn in elements):
                return None

            def render_list(vars: Mapping[str, Any]) -> Any:
                return [item if fn is None else fn(vars) for item, fn in elements]

            return render_list
        return None

    def check_syntax(self, source: str) -> None:
        """Raise ``TemplateError`` if ``source`` does not compile (used for load-time checks)."""
        self.compile(source)

    def referenced_names(self, source: str) -> frozenset[str]:
        """Top-level variable names a template reads (for deciding what is static)."""
        if self.disabled or not has_tags(source):
            return frozenset()
        try:
            tree = self._environment.parse(source)
        except jexc.TemplateSyntaxError:
            return frozenset()
        return frozenset(node.name for node in tree.find_all(nodes.Name)
                         if node.ctx == "load" and node.name not in (BUDGET, CONCAT))


__all__ = [
    "JsUndefined",
    "ObjectTemplate",
    "Template",
    "TemplateEngine",
    "env_flag",
    "has_tags",
    "print_value",
]
