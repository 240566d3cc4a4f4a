"""Generate the sync driver from the async one (httpcore's unasync model).

    python -m promptwire._unasync          # rewrite bindings/_sync/*.py
    python -m promptwire._unasync --check  # fail if they differ, or a rule went unused

Ordered, whole-word substitutions; every rule must fire at least once, so a
rule that no longer matches anything is noticed instead of rotting.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

HERE = Path(__file__).parent
FILES = ["driver.py"]
HEADER = "# GENERATED from bindings/_async/{name} by bindings/_unasync.py. Do not edit.\n"

RULES: list[tuple[str, str]] = [
    (r"\bAsyncIterator\b", "Iterator"),
    (r"\bAsyncBackend\b", "SyncBackend"),
    (r"\bAsyncStream\b", "SyncStream"),
    (r"\basync def\b", "def"),
    (r"\basync for\b", "for"),
    (r"\bawait ", ""),
    (r"\baclose\b", "close"),
    (r"THE driver loop", "The sync driver loop"),
]


def convert(text: str) -> tuple[str, set[int]]:
    used: set[int] = set()
    for i, (pattern, repl) in enumerate(RULES):
        text, n = re.subn(pattern, repl, text)
        if n:
            used.add(i)
    return text, used


def main(argv: list[str]) -> int:
    check = "--check" in argv
    used: set[int] = set()
    stale = []
    for name in FILES:
        source = (HERE / "_async" / name).read_text()
        out, u = convert(source)
        used |= u
        out = HEADER.format(name=name) + out
        target = HERE / "_sync" / name
        if check:
            if not target.exists() or target.read_text() != out:
                stale.append(str(target))
        else:
            target.write_text(out)
    unused = [RULES[i][0] for i in range(len(RULES)) if i not in used]
    if unused:
        print(f"unasync: rules that matched nothing: {unused}")
        return 1
    if stale:
        print(f"unasync: out of date, run `python -m promptwire._unasync`: {stale}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
