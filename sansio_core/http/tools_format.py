"""``tools`` / ``tool_choice`` written once in OpenAI shape, sent in the target API's shape.

``transformToolsFormat`` names the target (``openai``, ``anthropic``,
``bedrock``, ``google``). Only values that really are in OpenAI shape are
converted; anything else is assumed to be in the target's shape already and
passes through. The converted values reach templates as the vars ``tools``
and ``tool_choice``, objects pre-serialised to JSON text so that
``"{{tools}}"`` in a JSON body is parsed back into structure.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..errors import ConfigError
from ..js.engine import UNDEFINED

FORMATS = ("openai", "anthropic", "bedrock", "google")
_SIMPLE_CHOICES = ("auto", "none", "required")
_GOOGLE_DROPPED = frozenset({"additionalProperties", "$schema", "default", "$id", "$ref"})
_EMPTY_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}


def _is_openai_tools(tools: Any) -> bool:
    """promptfoo's test: a non-empty list whose first item is an OpenAI function tool."""
    if not isinstance(tools, list) or not tools:
        return False
    first = tools[0]
    return (
        isinstance(first, Mapping)
        and first.get("type") == "function"
        and isinstance(first.get("function"), Mapping)
        and isinstance(first["function"].get("name"), str)
    )


def _named_choice(choice: Any) -> str | None:
    if (
        isinstance(choice, Mapping)
        and choice.get("type") == "function"
        and isinstance(choice.get("function"), Mapping)
        and isinstance(choice["function"].get("name"), str)
    ):
        return str(choice["function"]["name"])
    return None


def _google_schema(schema: Any) -> Any:
    """Gemini rejects JSON-Schema keywords it does not know and wants upper-case types."""
    if not isinstance(schema, Mapping):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _GOOGLE_DROPPED:
            continue
        if key == "type" and isinstance(value, str):
            out[key] = value.upper()
        elif key == "properties" and isinstance(value, Mapping):
            out[key] = {name: _google_schema(sub) for name, sub in value.items()}
        elif key == "items":
            out[key] = _google_schema(value)
        else:
            out[key] = value
    return out


def convert_tools(tools: Any, fmt: str | None) -> Any:
    """The tools in ``fmt``'s shape (unchanged for openai, None, or non-OpenAI input)."""
    if fmt in (None, "openai") or not _is_openai_tools(tools):
        return tools
    functions = [t["function"] for t in tools if isinstance(t, Mapping) and isinstance(t.get("function"), Mapping)]
    if fmt == "anthropic":
        out = []
        for f in functions:
            item: dict[str, Any] = {"name": f.get("name")}
            if f.get("description"):
                item["description"] = f["description"]
            item["input_schema"] = f.get("parameters") or dict(_EMPTY_SCHEMA)
            out.append(item)
        return out
    if fmt == "bedrock":
        out = []
        for f in functions:
            spec: dict[str, Any] = {"name": f.get("name")}
            if f.get("description"):
                spec["description"] = f["description"]
            spec["inputSchema"] = {"json": f.get("parameters") or dict(_EMPTY_SCHEMA)}
            out.append({"toolSpec": spec})
        return out
    if fmt == "google":
        decls = []
        for f in functions:
            decl: dict[str, Any] = {"name": f.get("name")}
            if f.get("description"):
                decl["description"] = f["description"]
            if "parameters" in f and f["parameters"] is not None:
                decl["parameters"] = _google_schema(f["parameters"])
            decls.append(decl)
        return [{"functionDeclarations": decls}]
    raise ConfigError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}", "transformToolsFormat")


def convert_tool_choice(choice: Any, fmt: str | None) -> Any:
    """The tool choice in ``fmt``'s shape. ``UNDEFINED`` means "leave the var unset"
    (bedrock has no "none": the request simply carries no tool choice)."""
    name = _named_choice(choice)
    simple = choice if isinstance(choice, str) and choice in _SIMPLE_CHOICES else None
    if fmt in (None, "openai") or (name is None and simple is None):
        return choice
    if fmt == "anthropic":
        if name is not None:
            return {"type": "tool", "name": name}
        return {"auto": {"type": "auto"}, "none": {"type": "none"}, "required": {"type": "any"}}[simple or ""]
    if fmt == "bedrock":
        if name is not None:
            return {"tool": {"name": name}}
        if simple == "none":
            return UNDEFINED
        return {"auto": {"auto": {}}, "required": {"any": {}}}[simple or ""]
    if fmt == "google":
        if name is not None:
            return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [name]}}
        mode = {"auto": "AUTO", "none": "NONE", "required": "ANY"}[simple or ""]
        return {"functionCallingConfig": {"mode": mode}}
    raise ConfigError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}", "transformToolsFormat")


def _as_var(value: Any) -> Any:
    if isinstance(value, (Mapping, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return value


def tool_vars(
    tools: Any = None,
    tool_choice: Any = None,
    fmt: str | None = None,
) -> dict[str, Any]:
    """The ``tools`` / ``tool_choice`` vars for a call (only those that are set).

    Pass the prompt-level values when the prompt config has them (they win
    over the provider's), else the provider config's.
    """
    if fmt is not None and fmt not in FORMATS:
        raise ConfigError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}", "transformToolsFormat")
    out: dict[str, Any] = {}
    if tools is not None:
        out["tools"] = _as_var(convert_tools(tools, fmt))
    if tool_choice is not None:
        choice = convert_tool_choice(tool_choice, fmt)
        if choice is not UNDEFINED and choice is not None:
            out["tool_choice"] = _as_var(choice)
    return out


def _get(config: Any, key: str) -> Any:
    if config is None:
        return None
    if isinstance(config, Mapping):
        return config.get(key)
    return getattr(config, key, None)


def tools_vars(config: Any, prompt_config: Any = None) -> dict[str, Any]:
    """``tool_vars`` for a provider config (mapping or pydantic model); ``tools`` and
    ``tool_choice`` of the prompt's config win over the provider's (spec 18.1)."""
    tools = _get(prompt_config, "tools")
    if tools is None:
        tools = _get(config, "tools")
    choice = _get(prompt_config, "tool_choice")
    if choice is None:
        choice = _get(config, "tool_choice")
    fmt = _get(config, "transformToolsFormat")
    return tool_vars(tools, choice, fmt)


__all__ = ["FORMATS", "convert_tool_choice", "convert_tools", "tool_vars", "tools_vars"]
