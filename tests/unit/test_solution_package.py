"""Packaging the solution: reproducible zips whose handler runs as Lambda would import it."""

import hashlib
import importlib.util
import json
import os
import shutil
import sys
import time
import zipfile
from pathlib import Path

from customer_stack.solution import package
from tests.plugins.license_tokens import PUBLIC_B64, make_token


def test_solution_build_artifacts_lists_the_api_and_reporter_zips(tmp_path):
    api, reporter = package.build_artifacts(tmp_path / "out")
    assert reporter["name"] == "usage-reporter"
    assert api["name"] == "api"
    assert api["path"] == str(tmp_path / "out" / "api.zip")
    data = Path(api["path"]).read_bytes()
    assert api["size"] == len(data)
    assert api["sha256"] == hashlib.sha256(data).hexdigest()
    assert not list((tmp_path / "out").glob("*.partial"))


def test_solution_packaging_is_deterministic(tmp_path):
    first = package.build_artifacts(tmp_path / "a")
    second = package.build_artifacts(tmp_path / "b")
    assert [a["sha256"] for a in first] == [b["sha256"] for b in second]


def test_solution_zip_ignores_mtimes_modes_and_caches(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    shutil.copytree(package.ARTIFACTS["api"], one, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(package.ARTIFACTS["api"], two, ignore=shutil.ignore_patterns("__pycache__"))
    (two / "handler.py").chmod(0o755)
    os.utime(two / "handler.py", (1_900_000_000, 1_900_000_000))
    (two / "__pycache__").mkdir()
    (two / "__pycache__" / "handler.cpython-311.pyc").write_bytes(b"cache")
    (two / ".DS_Store").write_bytes(b"junk")

    a = package.build_artifacts(tmp_path / "out-a", {"api": one})
    b = package.build_artifacts(tmp_path / "out-b", {"api": two})

    assert a[0]["sha256"] == b[0]["sha256"]
    with zipfile.ZipFile(b[0]["path"]) as archive:
        infos = archive.infolist()
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    assert "handler.py" in [i.filename for i in infos]
    assert all(i.date_time == (1980, 1, 1, 0, 0, 0) and i.external_attr >> 16 == 0o100644 for i in infos)
    assert not [i for i in infos if "__pycache__" in i.filename or i.filename.startswith(".")]


def test_solution_packaging_changes_with_the_code(tmp_path):
    source = tmp_path / "src"
    shutil.copytree(package.ARTIFACTS["api"], source, ignore=shutil.ignore_patterns("__pycache__"))
    before = package.build_artifacts(tmp_path / "a", {"api": source})[0]["sha256"]
    (source / "handler.py").write_text((source / "handler.py").read_text() + "\n# changed\n")
    assert package.build_artifacts(tmp_path / "b", {"api": source})[0]["sha256"] != before


def test_solution_zipped_handler_runs_from_the_zip_root(tmp_path, monkeypatch):
    api, _reporter = package.build_artifacts(tmp_path / "out")
    with zipfile.ZipFile(api["path"]) as archive:
        archive.extractall(tmp_path / "task")  # what Lambda does with it, /var/task
        assert "recorder.py" in archive.namelist()
    monkeypatch.syspath_prepend(str(tmp_path / "task"))  # Lambda puts /var/task on sys.path
    for name in ("recorder", "entitlement", "license_token", "license_transport", "signing", "rsa_verify"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    for name in ("VS_LICENSE_URL", "VS_LICENSE_PUBLIC_KEY", "VS_LICENSE_SECRET_ARN"):
        monkeypatch.delenv(name, raising=False)
    spec = importlib.util.spec_from_file_location("handler", tmp_path / "task" / "handler.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    event = {"httpMethod": "POST", "path": "/analyze", "body": json.dumps({"text": "Good."})}
    refused = module.handler(event)  # no license settings: fail closed, nothing analysed
    assert (refused["statusCode"], json.loads(refused["body"])["error"]["code"]) == (
        401,
        "LicenseUnavailable",
    )
    # The zip's own license check (its modules, not the repository's) with a token that grants it.
    check, tokens = sys.modules["entitlement"], sys.modules["license_token"]
    assert tokens.__file__ == str(tmp_path / "task" / "license_token.py")
    assert sys.modules["rsa_verify"].__file__ == str(tmp_path / "task" / "rsa_verify.py")
    monkeypatch.setenv("VS_LICENSE_ROUTES", json.dumps({"POST /analyze": "analysis"}))
    answer = tokens.Fetched(200, {"token": make_token(int(time.time()))})
    check.set_client(tokens.LicenseTokenClient(tokens.Verifier(PUBLIC_B64), lambda: answer))
    try:
        response = module.handler(event)
    finally:
        check.set_client(None)
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["usage"] == {"requests": 1, "characters": 1}
    assert sys.modules["recorder"].__file__ == str(tmp_path / "task" / "recorder.py")


def test_every_function_artifact_carries_the_license_check(tmp_path):
    api, _reporter = package.build_artifacts(tmp_path / "out")
    with zipfile.ZipFile(api["path"]) as archive:
        for source, name in package.LICENSE_CHECK:
            assert archive.read(name) == source.read_bytes()


def test_reporter_artifact_carries_the_vendor_client_and_the_one_signing_module(tmp_path):
    _api, reporter = package.build_artifacts(tmp_path / "out")
    with zipfile.ZipFile(reporter["path"]) as archive:
        names = archive.namelist()
        signing = archive.read("signing.py")
        client = archive.read("vendor_client.py")
    assert "reporter/__init__.py" in names and "reporter/sending.py" in names and "recorder.py" in names
    assert "reporter.py" not in names
    assert signing == package.SIGNING.read_bytes()
    assert client == package.VENDOR_CLIENT.read_bytes()
