"""What keeps the test session's fixed costs down stays true: collecting the suite starts no jsii
(a node process loading aws-cdk-lib, seconds of CPU on every xdist worker), and every test that
needs jsii runs in one of the two xdist groups that hold it (tests/plugins/synth.py)."""

from __future__ import annotations

from tests.plugins import synth
from tests.plugins.xdist_groups import group_of, has_group_suffix


def test_collecting_the_tests_started_no_jsii() -> None:
    assert synth.jsii_at_collection is False, (
        "a test module imports aws_cdk (or constructs/, stacks/customer.py, app.py) at its top: "
        "import it inside the tests that use it"
    )


def test_the_tests_that_need_jsii_run_in_the_two_groups_that_hold_it(request) -> None:
    """Over the tests collected with this one (all of them, in `make test`): each test that needs
    jsii has exactly one group name (an item with two gets a group of its own), one of the two; the
    end-to-end and browser tests are in the sandbox's, which nothing else joins."""
    items = request.session.items
    groups = {item.nodeid: {m.args[0] for m in item.iter_markers("xdist_group")} for item in items}
    needing = {item.nodeid for item in items if synth.needs_jsii(item)}
    misplaced = {
        nodeid: found
        for nodeid, found in groups.items()
        if nodeid in needing and (len(found) != 1 or not found <= synth.JSII_GROUPS)
    }
    assert not misplaced, misplaced
    sandbox_users = {item.nodeid for item in items if "sandbox" in item.fixturenames}
    in_sandbox_group = {nodeid for nodeid, found in groups.items() if synth.SANDBOX_GROUP in found}
    assert sandbox_users <= in_sandbox_group
    assert all("/e2e/" in nodeid or "/browser/" in nodeid for nodeid in in_sandbox_group), sorted(
        in_sandbox_group
    )[:5]


def test_grouped_tests_carry_their_group_where_loadgroup_schedules(request) -> None:
    """pytest-xdist reads a test's group from an `@<group>` suffix of its node id, which pytest 9.2
    no longer keeps without tests/plugins/xdist_groups.py: on a `--dist loadgroup` worker (as in
    `make test`) every grouped test collected carries it; elsewhere no id is touched."""
    grouped = [item for item in request.session.items if group_of(item)]
    if getattr(request.config.option, "loadgroup", False):
        assert grouped, "the sandbox's and the CDK's tests are grouped"
        assert all(item.nodeid.endswith(f"@{group_of(item)}") for item in grouped), [
            item.nodeid for item in grouped if not has_group_suffix(item.nodeid)
        ][:5]
    else:
        assert not any(has_group_suffix(item.nodeid) for item in grouped)
