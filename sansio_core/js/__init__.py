"""JavaScript for promptfoo-compatible configs: QuickJS with limits and no host access.

``JsEngine`` owns one target's context(s); ``source_forms`` decides what a
config string is; ``modules`` wraps ``file://*.js`` modules. The option-level
rules (which names are bound, which error prefixes) live in ``sansio_core.hooks``.
"""

from ..errors import JsError
from .engine import JSON_FROM_TEXT, UNDEFINED, JsEngine, JsFunction, Json, JsResult
from .limits import JsLimits

__all__ = ["JSON_FROM_TEXT", "UNDEFINED", "Json", "JsEngine", "JsError", "JsFunction", "JsLimits", "JsResult"]
