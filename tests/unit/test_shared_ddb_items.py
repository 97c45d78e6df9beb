"""`shared.ddb_items` maps values exactly as boto3's TypeSerializer/TypeDeserializer do."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal

import pytest
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from hypothesis import given, settings
from hypothesis import strategies as st

from shared import ddb_items
from tests.plugins import ROOT
from tests.plugins.hypothesis_profiles import examples

numbers = st.integers(-(10**37), 10**37) | st.decimals(
    min_value=Decimal("-1e20"), max_value=Decimal("1e20"), places=6, allow_nan=False, allow_infinity=False
)
scalars = st.none() | st.booleans() | numbers | st.text(max_size=20) | st.binary(max_size=8)
values = st.recursive(
    scalars
    | st.frozensets(st.text(max_size=5), min_size=1, max_size=4)
    | st.frozensets(st.integers(-1000, 1000), min_size=1, max_size=4),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=examples(ci=300, local=40))
@given(values)
def test_serialization_is_boto3s(value) -> None:
    assert ddb_items.serialize(value) == TypeSerializer().serialize(value)


@settings(max_examples=examples(ci=300, local=40))
@given(values)
def test_deserialization_is_boto3s_and_round_trips(value) -> None:
    wire = TypeSerializer().serialize(value)
    theirs = TypeDeserializer().deserialize(wire)
    ours = ddb_items.deserialize(wire)
    assert ours == theirs  # boto3's Binary compares equal to the bytes it wraps
    assert ddb_items.deserialize(ddb_items.serialize(value)) == ours


def test_dump_leaves_out_none_and_load_reads_it_back() -> None:
    item = {"pk": "A", "n": 3, "gone": None, "m": {"x": [Decimal("1.5"), "y"]}}
    assert ddb_items.dump(item) == {
        k: TypeSerializer().serialize(v) for k, v in item.items() if v is not None
    }
    assert ddb_items.load(ddb_items.dump(item)) == {"pk": "A", "n": 3, "m": {"x": [Decimal("1.5"), "y"]}}


@pytest.mark.parametrize(
    "bad", [1.5, Decimal("NaN"), Decimal("Infinity"), Decimal("1e200"), Decimal("1." + "1" * 40), object()]
)
def test_what_dynamodb_cannot_store_is_refused_like_boto3(bad) -> None:
    with pytest.raises(Exception) as theirs:
        TypeSerializer().serialize(bad)
    with pytest.raises(type(theirs.value)):
        ddb_items.serialize(bad)


def test_importing_it_imports_neither_boto3_nor_botocore() -> None:
    code = (
        "import sys; import shared.ddb_items; "
        "print(sorted(m for m in sys.modules if m.startswith(('boto', 's3t'))))"
    )
    out = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", code], cwd=ROOT / "runtime", capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
