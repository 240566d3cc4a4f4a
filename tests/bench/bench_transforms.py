"""Per-call cost of ``json.choices[0].message.content`` on a ~1 KB response.

Run: ``.venv/bin/python tests/bench/bench_transforms.py``. Prints the median
microseconds per call of the transform alone (JavaScript via QuickJS, and a
Python callable) and of the whole ``ResponsePlan.build`` around each.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from sansio_core.http.response_plan import ResponsePlan
from sansio_core.js import JSON_FROM_TEXT, Json
from sansio_core.js.engine import FLAG_LAZY_CONTEXT, FLAG_RESPONSE_DATA
from sansio_core.sources import Sources

BODY = json.dumps({
    "id": "chatcmpl-1", "object": "chat.completion", "model": "m",
    "choices": [{"index": 0, "finish_reason": "stop",
                 "message": {"role": "assistant", "content": "word " * 170}}],
    "usage": {"prompt_tokens": 10, "completion_tokens": 170, "total_tokens": 180},
})
CONTEXT = Json('{"response":{"data":null,"status":200,"statusText":"OK","headers":{"content-type":"application/json"},'
               '"cached":false,"latencyMs":12},"vars":{},"prompt":"hi"}')


def median_us(fn: Callable[[], Any], rounds: int = 7, n: int = 5000) -> float:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        samples.append((time.perf_counter() - start) / n * 1e6)
    return statistics.median(samples)


def main() -> None:
    js_plan = ResponsePlan.compile({"transformResponse": "json.choices[0].message.content"}, Sources())
    py_plan = ResponsePlan.compile({"transformResponse": lambda json: json["choices"][0]["message"]["content"]},
                                   Sources())
    js_hook = js_plan.transform_response_hook
    py_hook = py_plan.transform_response_hook
    assert js_hook is not None and py_hook is not None
    parsed = json.loads(BODY)
    assert js_hook.call(JSON_FROM_TEXT, BODY, CONTEXT, flags=FLAG_RESPONSE_DATA | FLAG_LAZY_CONTEXT).value == parsed["choices"][0]["message"]["content"]
    build = {"status": 200, "status_text": "OK", "headers": [("Content-Type", "application/json")],
             "body_text": BODY, "latency_ms": 12, "prompt": "hi", "vars": {}}
    print(f"response body: {len(BODY)} bytes")
    print(f"js hook call (body text in, JSON.parse in JS):   {median_us(lambda: js_hook.call(JSON_FROM_TEXT, BODY, CONTEXT, flags=FLAG_RESPONSE_DATA | FLAG_LAZY_CONTEXT)):6.1f} us")
    print(f"python callable (json.loads + call):            {median_us(lambda: py_hook.call(json.loads(BODY), BODY, {})):6.1f} us")
    print(f"ResponsePlan.build, JavaScript transform:        {median_us(lambda: js_plan.build(**build)):6.1f} us")
    print(f"ResponsePlan.build, Python transform:            {median_us(lambda: py_plan.build(**build)):6.1f} us")


if __name__ == "__main__":
    main()
