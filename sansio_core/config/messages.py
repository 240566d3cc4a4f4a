"""From pydantic's validation errors to one ``ConfigError`` that names the key and says
what was expected, with a did-you-mean for unknown keys: shared by every config model.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from ..errors import ConfigError


def join_path(where: str, key: str) -> str:
    if not where:
        return key
    return f"{where}{key}" if key.startswith("[") else f"{where}.{key}"


def type_name(value: Any) -> str:
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


def closest(key: str, known: Any) -> str | None:
    """The known option ``key`` was probably meant to be (a near spelling, or another case)."""
    options = sorted(str(k) for k in known)
    close = difflib.get_close_matches(key, options, n=1, cutoff=0.6)
    if not close:
        lowered = {o.lower(): o for o in options}
        if key.lower() in lowered:
            close = [lowered[key.lower()]]
    return close[0] if close else None


def unknown_key_message(key: str, known: Any) -> str:
    options = sorted(str(k) for k in known)
    guess = closest(key, options)
    hint = f"; did you mean {guess!r}?" if guess else f" (known: {', '.join(options)})"
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


def config_error(err: ValidationError, raw: Mapping[str, Any], where: str, root: type[BaseModel]) -> ConfigError:
    """The most useful single error of ``err`` for a config validated against ``root``."""
    errors = err.errors(include_url=False)
    # An unknown key is the most useful thing to report; then the first error with the
    # shortest path (union members produce one error per member for the same value).
    errors.sort(key=lambda e: (e["type"] != "extra_forbidden", len(_clean_loc(e["loc"]))))
    first = errors[0]
    loc = _clean_loc(first["loc"])
    path = where
    for part in loc:
        path = join_path(path, f"[{part}]" if isinstance(part, int) else str(part))
    value = first.get("input")
    if first["type"] == "extra_forbidden":
        parent_model = _model_at(root, loc[:-1], raw)
        known = list(parent_model.model_fields) if parent_model is not None else []
        return ConfigError(unknown_key_message(str(loc[-1]), known), path)
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
        message = f"{message}, got {type_name(value)} {_short(value)}"
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


__all__ = ["closest", "config_error", "join_path", "type_name", "unknown_key_message"]
