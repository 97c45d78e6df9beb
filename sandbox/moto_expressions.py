"""moto's DynamoDB update expressions, parsed once per text and walked without rebuilding maps.

What moto 5.2 does for every `UpdateItem` (and every `Update` of a `TransactWriteItems`):

- It parses the expression's text twice: once in the request handler (to check the names and
  values it uses) and once in the backend.
- It runs ten validators over a copy of the tree. Each walks every node, and for every node
  it rebuilds the validator's map of node classes to handlers (`DepthFirstTraverser._processing_map`
  returns a new dict on each call) twice: to ask whether to process the node, then to process it.

The audit log's daily roll-up (`SET` three attributes `ADD` three counters) cost about 6 ms a call
that way, and update-heavy tests spent about a fifth of their time there.

`install()` changes neither the answers nor the checks:

- **`UpdateExpressionParser.make` is memoised by the text.** The tree is a pure function of
  the text. moto never changes a parsed tree: the request handler only reads it (`find_clauses`),
  and the backend's validators deep-copy it before they rewrite the copy
  (`Validator.__init__`). A text that does not parse raises each time, as before (a raised call is
  not cached).
- **Each validator class's handler map is built once.** Every `_processing_map` in moto 5.2
  returns a literal dict from node classes to the validator's own methods, the same for every
  instance of the class. The map is remembered per class as (node class, function) pairs and
  applied to the instance at hand, in the same order and with the same isinstance tests.

`tests/integration/test_moto_speed.py` checks both against moto's originals. `install()` is
idempotent; the sandbox applies it before it starts moto (`sandbox.cheaper_moto`), and so does the
test plugin (`tests.plugins.moto_speed`).
"""

from __future__ import annotations

import functools
from typing import Any

_CACHE_SIZE = 4096


def install() -> None:
    """Patch moto's DynamoDB expression parsing and traversal in this process (once)."""
    from moto.dynamodb.parsing import ast_nodes, expressions

    traverser: Any = ast_nodes.DepthFirstTraverser  # type: ignore[attr-defined]
    parser: Any = expressions.UpdateExpressionParser  # type: ignore[attr-defined]
    if getattr(traverser.process, "_vendstack", False):
        return
    make = parser.__dict__["make"].__func__
    memoised: Any = functools.lru_cache(maxsize=_CACHE_SIZE)(make)
    parser.make = classmethod(memoised)
    _remember_processing_maps(traverser)


def _remember_processing_maps(traverser: Any) -> None:
    original_nodes, original_process = traverser.nodes_to_be_processed, traverser.process
    remembered: dict[type, tuple[tuple[type, Any], ...]] = {}

    def handlers(self: Any) -> tuple[tuple[type, Any], ...]:
        """The map as (node class, unbound handler) pairs, built once per validator class."""
        kind = type(self)
        pairs = remembered.get(kind)
        if pairs is None:
            pairs = tuple(
                (node_class, bound.__func__) for node_class, bound in self._processing_map().items()
            )
            remembered[kind] = pairs
        return pairs

    def nodes_to_be_processed(self: Any) -> tuple[type, ...]:
        return tuple(node_class for node_class, _ in handlers(self))

    def process(self: Any, node: Any) -> Any:
        for node_class, handler in handlers(self):
            if isinstance(node, node_class):
                return handler(self, node)
        return None

    nodes_to_be_processed.original = original_nodes  # type: ignore[attr-defined]
    process.original = original_process  # type: ignore[attr-defined]
    process._vendstack = True  # type: ignore[attr-defined]
    traverser.nodes_to_be_processed = nodes_to_be_processed
    traverser.process = process
