"""tools / tool_choice conversions (spec 18) checked against the recorded request bodies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from sansio_core.errors import ConfigError
from sansio_core.http.tools_format import convert_tool_choice, convert_tools, tool_vars, tools_vars

CASES = Path(__file__).resolve().parents[3].parent / "shared" / "conformance" / "cases"
WEATHER = [{"type": "function", "function": {
    "name": "get_weather", "description": "Get weather",
    "parameters": {"type": "object", "properties": {"location": {"type": "string", "default": "x"},
                                                     "days": {"type": "array", "items": {"type": "integer", "$id": "i"}}},
                   "required": ["location"], "additionalProperties": False}}}]
NAMED = {"type": "function", "function": {"name": "get_weather"}}


@pytest.mark.skipif(not CASES.is_dir(), reason="shared conformance cases not present")
@pytest.mark.parametrize("name", ["tools_format_anthropic", "tools_format_bedrock", "tools_openai_passthrough"])
def test_vars_match_the_recorded_bodies(name: str) -> None:
    config = yaml.safe_load((CASES / f"{name}.yaml").read_text())["provider"]["config"]
    sent = json.loads(json.loads((CASES / f"{name}.golden.json").read_text())["requests"][0]["body_text"])
    got = tools_vars(config)
    assert json.loads(got["tools"]) == sent["tools"]
    choice = got["tool_choice"]
    assert (json.loads(choice) if choice.startswith("{") else choice) == sent["tool_choice"]


def test_anthropic() -> None:
    tools = convert_tools([*WEATHER, {"type": "function", "function": {"name": "bare"}}], "anthropic")
    assert tools[0] == {"name": "get_weather", "description": "Get weather", "input_schema": WEATHER[0]["function"]["parameters"]}
    assert tools[1] == {"name": "bare", "input_schema": {"type": "object", "properties": {}}}
    assert [convert_tool_choice(c, "anthropic") for c in ("auto", "none", "required", NAMED)] == [
        {"type": "auto"}, {"type": "none"}, {"type": "any"}, {"type": "tool", "name": "get_weather"}]


def test_bedrock() -> None:
    assert convert_tools(WEATHER, "bedrock") == [{"toolSpec": {
        "name": "get_weather", "description": "Get weather", "inputSchema": {"json": WEATHER[0]["function"]["parameters"]}}}]
    assert convert_tool_choice("auto", "bedrock") == {"auto": {}}
    assert convert_tool_choice("required", "bedrock") == {"any": {}}
    assert convert_tool_choice(NAMED, "bedrock") == {"tool": {"name": "get_weather"}}
    assert "tool_choice" not in tool_vars(WEATHER, "none", "bedrock")


def test_google_sanitizes_schemas() -> None:
    assert convert_tools(WEATHER, "google") == [{"functionDeclarations": [{
        "name": "get_weather", "description": "Get weather",
        "parameters": {"type": "OBJECT", "properties": {"location": {"type": "STRING"},
                                                         "days": {"type": "ARRAY", "items": {"type": "INTEGER"}}},
                       "required": ["location"]}}]}]
    assert convert_tool_choice(NAMED, "google") == {
        "functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}}
    assert convert_tool_choice("none", "google") == {"functionCallingConfig": {"mode": "NONE"}}


@pytest.mark.parametrize("fmt", [None, "openai", "anthropic"])
def test_non_openai_shapes_pass_through(fmt: Any) -> None:
    native = [{"name": "already", "input_schema": {}}]
    assert convert_tools(native, fmt) == native
    assert convert_tool_choice({"type": "any"}, fmt) == {"type": "any"}


def test_vars_serialise_objects_and_keep_strings() -> None:
    got = tool_vars(WEATHER, "auto", None)
    assert got["tool_choice"] == "auto" and json.loads(got["tools"]) == WEATHER
    assert tool_vars() == {}
    assert tools_vars({"tools": WEATHER}, {"tools": [{"type": "function", "function": {"name": "p"}}]})["tools"] == (
        '[{"type":"function","function":{"name":"p"}}]')
    with pytest.raises(ConfigError, match="transformToolsFormat"):
        tool_vars(WEATHER, None, "cohere")
