"""The shipped `cdk.json` configuration (`CONTEXT`), and a copy of it with one value changed or
removed (`with_change`), for the configuration gate's tests. Plain helpers."""

from __future__ import annotations

import copy
import json
from pathlib import Path

CONTEXT = json.loads((Path(__file__).resolve().parents[2] / "cdk.json").read_text())["context"]["vendstack"]


def with_change(path: str, value):
    tree = copy.deepcopy(CONTEXT)
    node = tree
    parts = path.split(".")
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node[part]
    last = parts[-1]
    if value is KeyError:
        del node[last]
    else:
        node[int(last) if last.isdigit() else last] = value
    return tree
