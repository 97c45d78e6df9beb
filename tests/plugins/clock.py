"""A clock the test sets: calling it answers `now`, and the test moves time by assigning `now`.

The code under test takes its clock as a callable (`clock=`, `now=`), so one kind serves every
time type it reads: epoch seconds (`float`) or an aware `datetime`."""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")


class Clock(Generic[T]):
    def __init__(self, now: T) -> None:
        self.now = now

    def __call__(self) -> T:
        return self.now
