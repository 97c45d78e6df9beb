"""`sandbox/gc_thresholds.py`: the test processes and the sandbox's server collect cyclic garbage
less often; the middle and oldest thresholds are kept."""

from __future__ import annotations

import gc

import pytest

from sandbox import gc_thresholds


def test_install_raises_only_the_first_threshold(monkeypatch) -> None:
    monkeypatch.setattr(gc, "get_threshold", lambda: (700, 7, 9))
    set_to: list[tuple[int, ...]] = []
    monkeypatch.setattr(gc, "set_threshold", lambda *args: set_to.append(args))
    gc_thresholds.install()
    assert set_to == [(gc_thresholds.YOUNG_THRESHOLD, 7, 9)]
    assert gc_thresholds.YOUNG_THRESHOLD > 700  # CPython's default: young collections are rarer


def test_this_test_process_has_the_raised_threshold() -> None:
    assert gc.get_threshold()[0] == gc_thresholds.YOUNG_THRESHOLD  # tests.plugins.gc_thresholds ran


def test_the_sandbox_s_process_raises_it_before_it_starts(monkeypatch, tmp_path) -> None:
    from sandbox import __main__ as sandbox_main

    for name in ("VendstackVendorPlatform.template.json", "customer.json"):
        (tmp_path / name).write_text("{}")
    seen: list[tuple[str, object]] = []
    monkeypatch.setattr(gc, "set_threshold", lambda *args: seen.append(("set", args[0])))

    class Started(Exception):
        pass

    class RecordingSandbox:
        def __init__(self, *args, **kwargs) -> None:
            seen.append(("made", None))

        def start(self, progress) -> None:
            raise Started

        def stop(self) -> None:
            seen.append(("stopped", None))

    monkeypatch.setattr(sandbox_main, "Sandbox", RecordingSandbox)
    monkeypatch.setattr(sandbox_main.signal, "signal", lambda *args: None)  # keep pytest's Ctrl-C
    argv = ["--cdk-out", str(tmp_path), "--customer-template", str(tmp_path / "customer.json")]
    with pytest.raises(Started):
        sandbox_main.main([*argv, "--state-dir", str(tmp_path / "state")])
    assert seen == [("set", gc_thresholds.YOUNG_THRESHOLD), ("made", None), ("stopped", None)]
