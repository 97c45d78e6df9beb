"""`--dist loadgroup` groups tests again under pytest 9.2.

pytest-xdist 3.8 tells the scheduler a test's `xdist_group` by appending `@<group>` to the item's
node id (`item._nodeid`). pytest 9.2 keeps node ids in a structured `item._id` and no longer reads
`_nodeid`, so the suffix is lost and every group is spread over all workers as if unmarked: each
worker booted its own sandbox (and paid its teardown), and tests that must share one state did not
(pytest-xdist issue #1386, "`--dist=loadgroup` silently stops grouping on pytest main", open; fix
proposed in pull request #1388). This hook, run after xdist's own, writes the same suffix where xdist
meant it to be, and does nothing where xdist already did (a fixed xdist) or outside a loadgroup
worker. Remove it once the pinned pytest-xdist groups under the pinned pytest.
"""

from __future__ import annotations

import pytest


def group_of(item: pytest.Item) -> str | None:
    """The group xdist's loadgroup gives `item` (its mark names, sorted, joined by `_`), if any."""
    names = {
        str(m.args[0] if m.args else m.kwargs.get("name", "default"))
        for m in item.iter_markers("xdist_group")
    }
    return "_".join(sorted(names)) or None


def has_group_suffix(nodeid: str) -> bool:
    """As xdist's scheduler reads it: an `@` after any parameter brackets."""
    return nodeid.rfind("@") > nodeid.rfind("]")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not getattr(config.option, "loadgroup", False):  # set only on xdist workers of a loadgroup run
        return
    for item in items:
        group = group_of(item)
        if group is None or has_group_suffix(item.nodeid):
            continue
        grouped = f"{item.nodeid}@{group}"
        if hasattr(item, "_id"):  # pytest >= 9.2: the structured id, its text as given
            from _pytest.nodeid import NodeId

            item._id = NodeId.parse(grouped)
        else:  # older pytest: what xdist itself writes
            item._nodeid = grouped
