"""A vendor's own service end to end: built (its code, the usage recorder and its pip dependency,
reproducibly), published into moto, and activated through the license API, which hands out exactly
those artifacts."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

import pytest

from customer_stack.solution.package import build_artifacts
from tests.plugins.delivery_world import DeliveryWorld
from tests.solution_fixtures import DEPENDENCY, vendor_service


@pytest.fixture
def solution(tmp_path):
    return vendor_service(tmp_path / "vendor")


@pytest.fixture(name="built_once", scope="module")
def built_once_fixture(tmp_path_factory):
    """The vendor's service and its artifacts, built once for the module (pip runs in each build):
    the contents test reads them, the reproducibility test builds again and compares."""
    root = tmp_path_factory.mktemp("built-once")
    solution = vendor_service(root / "vendor")
    artifacts = build_artifacts(root / "out", solution=solution)
    return solution, root / "out", artifacts


def _names(data: bytes) -> set[str]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return set(archive.namelist())


def test_the_artifact_holds_the_vendor_code_the_recorder_and_the_dependency(built_once) -> None:
    solution, out, artifacts = built_once
    built = {a["name"]: a for a in artifacts}
    assert sorted(built) == ["usage-reporter", "worker"]
    worker = (out / "worker.zip").read_bytes()
    names = _names(worker)
    assert {
        "app.py",
        "recorder.py",
        f"{DEPENDENCY}/__init__.py",
        f"{DEPENDENCY}-1.0.0.dist-info/METADATA",
    } <= names
    assert not any(n.endswith(".pyc") or "__pycache__" in n for n in names)
    assert "handler.py" not in names  # not the sample's code
    with zipfile.ZipFile(io.BytesIO(worker)) as archive:
        assert archive.read("app.py").decode() == (solution[0].source / "app.py").read_text()
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    assert built["worker"]["sha256"] == hashlib.sha256(worker).hexdigest()


@pytest.mark.slow(reason="pip builds the vendor's service once more")
def test_building_twice_gives_the_same_sha256(built_once, tmp_path, monkeypatch) -> None:
    """pip runs in the second build (its output must be the same bytes in another folder); the
    third, whose claim is that a changed source changes the worker's sha256 and only it, gets the
    second build's vendored dependency as pip made it."""
    import shutil

    from customer_stack.solution import package

    vendor_requirements = package.vendor_requirements
    pip_made = tmp_path / "pip-made"

    def vendor_once(function, into):
        if pip_made.exists():
            shutil.copytree(pip_made, into, dirs_exist_ok=True)
        else:
            vendor_requirements(function, into)
            shutil.copytree(into, pip_made)

    monkeypatch.setattr(package, "vendor_requirements", vendor_once)
    solution, _, first = built_once  # the first build, shared with the contents test
    second = build_artifacts(tmp_path / "b", solution=solution)
    assert pip_made.joinpath(DEPENDENCY, "__init__.py").is_file()
    assert [(a["name"], a["sha256"], a["size"]) for a in first] == [
        (a["name"], a["sha256"], a["size"]) for a in second
    ]
    app = solution[0].source / "app.py"
    original = app.read_text()
    app.write_text(original + "\n# changed\n")
    try:
        third = {a["name"]: a["sha256"] for a in build_artifacts(tmp_path / "c", solution=solution)}
    finally:
        app.write_text(original)  # the module's service stays as built
    assert third["worker"] != first[1]["sha256"] and third["usage-reporter"] == first[0]["sha256"]


def test_a_dependency_that_cannot_be_vendored_stops_the_build(solution, tmp_path) -> None:
    from customer_stack.solution.package import BuildError

    solution[0].requirements.write_text(solution[0].requirements.read_text().replace("1.0.0", "9.9.9"))
    with pytest.raises(BuildError, match="vendoring .*requirements.txt for 'worker' failed"):
        build_artifacts(tmp_path / "out", solution=solution)


def test_publish_then_activation_delivers_the_vendor_solution(
    world: DeliveryWorld, customer_key: dict, solution
) -> None:
    result = world.publish("1.0.0", solution=solution)
    released = {a["name"]: a for a in result["release"]["artifacts"]}
    assert sorted(released) == ["usage-reporter", "worker"]
    assert any("worker: vendoring requirements.txt" in m for m in world.messages)

    answer = world.activate(customer_key)
    assert answer.status == 200, answer.body
    body = answer.body
    world.verify_manifest(body)
    manifest = {a["name"]: a for a in body["manifest"]["artifacts"]}
    assert sorted(manifest) == ["usage-reporter", "worker"]
    data = world.download(body["downloads"]["worker"]["url"])
    assert hashlib.sha256(data).hexdigest() == manifest["worker"]["sha256"] == released["worker"]["sha256"]
    assert len(data) == manifest["worker"]["size"]
    assert {"app.py", "recorder.py", f"{DEPENDENCY}/__init__.py"} <= _names(data)
    assert json.dumps(body).count("handler.py") == 0


def test_a_dependency_that_cannot_be_vendored_refuses_the_publish_and_writes_nothing(
    world: DeliveryWorld, solution, monkeypatch
) -> None:
    """The build's refusal is pip's, as `test_a_dependency_that_cannot_be_vendored_stops_the_build`
    proves; here the build raises that BuildError without running pip, and the publish must turn
    it into a refusal that writes nothing."""
    from customer_stack.publish import BadInput
    from customer_stack.solution import package

    def pip_refuses(function, into):
        raise package.BuildError(
            f"vendoring {function.requirements} for {function.name!r} failed: "
            "ERROR: No matching distribution found for vs-tinydep==9.9.9"
        )

    monkeypatch.setattr(package, "vendor_requirements", pip_refuses)
    solution[0].requirements.write_text(solution[0].requirements.read_text().replace("1.0.0", "9.9.9"))
    objects = world.object_versions()  # objects of earlier tests stay in the session's moto
    with pytest.raises(BadInput, match="vendoring .*for 'worker' failed"):
        world.publish("1.0.0", solution=solution)
    assert [i for i in world.data_items() if i["pk"].startswith("RELEASE#")] == []
    assert world.object_versions() == objects
