"""One sync Target shared by many threads, with a JavaScript transform.

This used to abort the interpreter: with more threads than the engine keeps
contexts for, one thread evicted (and entered) a QuickJS context another
thread was running.
"""

from __future__ import annotations

import threading
from typing import Any

from promptwire.api import Target


def test_many_threads_share_one_target(mock: Any) -> None:
    target = Target.from_config({
        "id": f"{mock.base_url}/v1/chat/completions",
        "config": {"method": "POST",
                   "body": {"model": "m", "messages": [{"role": "user", "content": "{{prompt}}"}]},
                   "transformResponse": "json.choices[0].message.content"},
    })
    errors: list[BaseException] = []
    outputs: list[str] = []

    def worker(n: int) -> None:
        try:
            for i in range(5):
                outputs.append(target.call(f"t{n} c{i}").output)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    target.close()
    assert not errors
    assert sorted(outputs) == sorted(f"Echo: t{n} c{i}" for n in range(40) for i in range(5))
