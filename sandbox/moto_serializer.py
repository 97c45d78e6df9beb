"""moto's response serializer looks up each member's candidate names once, not on every value.

moto 5.2 writes most responses (every DynamoDB answer included) by walking the operation's output
shape in botocore's model. For *each member of each structure* it meets, `ResponseSerializer.get_value`
builds a context object and asks the value picker (`XFormedAttributePicker`) for the names the
member may have on the Python value: six alias providers are instantiated and asked in turn, and
each name found is also tried in snake_case (`botocore.xform_name`). A DynamoDB attribute value is a
structure of ten members (`S`, `N`, `B`, `SS`, ..., `BOOL`), so one item of ten attributes costs a
hundred such look-ups; across the tests and the sandbox they were about 3% of all CPU.

The names a member may have do not depend on the value itself, only on:

- the picker's class and its alias providers (moto's default list, the only one moto uses);
- the value's class: `ExplicitAlias` reads the class's `Meta.serialization_aliases` and
  `ClassPrefixAlias` its name;
- the member's key and its shape in the model (`ShapeNameAlias`, `ShapePrefixAlias` and
  `ModelAlias` read the shape's name, type, serialization name and its parent structure).

So `install()` remembers the names per (picker class, value class, key), on the shape object
itself (the model's shapes live as long as their model; a shape made for one error response goes
with it), and keyed by the shape's parent too (moto sets `shape.parent` as it walks). The value is
then looked up under those names in the same order, with moto's own `get_value`, and a value found
under none of them is None, as in moto. Not remembered, so moto's own path runs: a picker with
response transformers (`RESPONSE_KEY_PATH_TO_TRANSFORMER`, which need the key path), another
picker class or provider list, a value whose `Meta` is its instance's own rather than its class's,
and a member without a shape.

`tests/integration/test_moto_speed.py` serializes responses of several services both ways and
compares them. `install()` is idempotent; the sandbox applies it before it starts moto
(`sandbox.cheaper_moto`), and so does the test plugin (`tests.plugins.moto_speed`).
"""

from __future__ import annotations

from typing import Any

_NAMES = "_vendstack_member_names"


def install() -> None:
    """Patch moto's response serializer in this process (once)."""
    from moto.core import serialize
    from moto.core.utils import MISSING, get_value

    serializer: Any = serialize.ResponseSerializer
    if getattr(serializer.get_value, "_vendstack", False):
        return
    original = serializer.get_value
    pickers = (serialize.AttributePicker, serialize.XFormedAttributePicker)
    default_providers = serialize.DEFAULT_ALIAS_PROVIDERS
    context_type = serialize.AttributePickerContext

    def names(picker: Any, value: Any, key: str, shape: Any) -> tuple[str, ...] | None:
        """The names moto's picker would try for this member of this class of value, remembered on
        the shape; None where the answer could depend on more than the key (moto's path then)."""
        kind = type(value)
        if getattr(value, "Meta", None) is not getattr(kind, "Meta", None):
            return None
        remembered = shape.__dict__.get(_NAMES)
        if remembered is None:
            remembered = shape.__dict__[_NAMES] = {}
        slot = (type(picker), kind, key, getattr(shape, "parent", None))
        found = remembered.get(slot)
        if found is None:
            context = context_type(obj=value, key=key, shape=shape)
            found = remembered[slot] = tuple(picker.get_possible_keys(context))
        return found

    def get_value_by_remembered_names(self: Any, value: Any, key: str, shape: Any) -> Any:
        picker = self._value_picker
        if (
            shape is not None
            and type(picker) in pickers
            and picker.alias_providers is default_providers
            and not picker.response_transformers
        ):
            candidates = names(picker, value, key, shape)
            if candidates is not None:
                for candidate in candidates:
                    found = get_value(value, candidate, MISSING)
                    if found is not MISSING:
                        return found
                return None
        return original(self, value, key, shape)

    get_value_by_remembered_names.original = original  # type: ignore[attr-defined]
    get_value_by_remembered_names._vendstack = True  # type: ignore[attr-defined]
    serializer.get_value = get_value_by_remembered_names
