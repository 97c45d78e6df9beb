"""What keeps the test session's fixed costs down stays true: collecting the suite starts no jsii
(a node process loading aws-cdk-lib, seconds of CPU on every xdist worker), and every test that
needs jsii runs in the one xdist group that holds it (tests/plugins/synth.py)."""

from __future__ import annotations

from tests.plugins import synth
from tests.plugins.xdist_groups import group_of, has_group_suffix


def test_collecting_the_tests_started_no_jsii() -> None:
    assert synth.jsii_at_collection is False, (
        "a test module imports aws_cdk (or constructs/, stacks/customer.py, app.py) at its top: "
        "import it inside the tests that use it"
    )


def test_the_tests_that_need_jsii_share_one_xdist_group(request) -> None:
    """Over the tests collected with this one (all of them, in `make test`): one group name each, so
    no module's own xdist_group splits them off (an item with two names gets a third group)."""
    items = request.session.items
    groups = {
        item.nodeid: {m.args[0] for m in item.iter_markers("xdist_group")}
        for item in items
        if item.path.is_relative_to(synth.INFRA)
        or "assembly" in item.fixturenames
        or item.get_closest_marker("cdk")
    }
    assert all(found == {synth.JSII_GROUP} for found in groups.values()), {
        k: v for k, v in groups.items() if v != {synth.JSII_GROUP}
    }


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
