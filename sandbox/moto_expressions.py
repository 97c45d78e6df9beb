"""moto's DynamoDB update expressions, parsed once per text and walked without rebuilding maps.

What moto 5.2 does for every `UpdateItem` (and every `Update` of a `TransactWriteItems`):

- It parses the expression's text twice: once in the request handler (to check the names and
  values it uses) and once in the backend.
- It runs ten validators over a copy of the tree. Each walks every node, and for every node
  it rebuilds the validator's map of node classes to handlers (`DepthFirstTraverser._processing_map`
  returns a new dict on each call) twice: to ask whether to process the node, then to process it.

- Each traversal asks `isinstance(node, Node)` of every node and every child value, and
  `find_clauses` asks `isinstance(child, Expression)`: `Node` is an `abc.ABCMeta` class, so each
  question goes through `ABCMeta.__instancecheck__`.
- `Validator.__init__` deep-copies the tree with the standard library's generic copy
  (`__reduce_ex__`, then `_reconstruct`, for every node).

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
- **The traversal answers its class questions once per class.** `traverse_node_recursively` does
  what moto's does, in the same order (children first, left to right, each after
  `pre_processing_of_child`; then the node's handler; the result put in the parent's place), but
  "is this a `Node`" and "which handler, if any, takes this node" are looked up by the node's
  class (and the validator's class) and remembered. moto registers no virtual subclasses and no
  validator overrides `process` or `nodes_to_be_processed`, so the class decides both answers.
  `find_clauses` is moto's loop with its two `isinstance` tests remembered the same way.
- **A node copies itself** (`Node.__deepcopy__`): a new instance of its class whose attributes
  are deep copies of the original's, registered in the memo first, exactly what the generic copy
  builds (lists element by element, nodes recursively, everything else, such as a `DynamoType`,
  by `copy.deepcopy` with the same memo), without the pickle protocol's detour.

`tests/integration/test_moto_speed.py` checks all of them against moto's originals. `install()` is
idempotent; the sandbox applies it before it starts moto (`sandbox.cheaper_moto`), and so does the
test plugin (`tests.plugins.moto_speed`).
"""

from __future__ import annotations

import copy
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
    _traverse_by_class(ast_nodes)
    _find_clauses_by_class(ast_nodes)
    _copy_nodes_directly(ast_nodes)


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

    traverser._vendstack_handlers = handlers

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


def _subclass_test(base: type | tuple[type, ...]) -> Any:
    """`issubclass(kind, base)`, answered once per class (moto registers no virtual subclasses,
    so a node's class decides what `isinstance` would say of it)."""
    answers: dict[type, bool] = {}

    def test(kind: type) -> bool:
        answer = answers.get(kind)
        if answer is None:
            answer = answers[kind] = issubclass(kind, base)
        return answer

    return test


def _traverse_by_class(ast_nodes: Any) -> None:
    traverser = ast_nodes.DepthFirstTraverser
    original = traverser.traverse_node_recursively
    base_hook = traverser.pre_processing_of_child
    handlers = traverser._vendstack_handlers
    is_node = _subclass_test(ast_nodes.Node)
    hooked: dict[type, bool] = {}
    handler_for: dict[tuple[type, type], Any] = {}

    def handler(self: Any, kind: type) -> Any:
        """The handler moto's `process` would call for a node of this class, or None when
        `nodes_to_be_processed` would not take it."""
        key = (type(self), kind)
        if key not in handler_for:
            handler_for[key] = next((f for c, f in handlers(self) if issubclass(kind, c)), None)
        return handler_for[key]

    def traverse_node_recursively(self: Any, node: Any, child_id: int = -1) -> Any:
        kind = type(node)
        if not is_node(kind):
            return node
        parent_node = node.parent
        if node.children is not None:
            own = type(self)
            has_hook = hooked.get(own)
            if has_hook is None:
                has_hook = hooked[own] = own.pre_processing_of_child is not base_hook
            for i, child_node in enumerate(node.children):
                if has_hook:
                    self.pre_processing_of_child(node, i)
                self.traverse_node_recursively(child_node, i)
        process = handler(self, kind)
        if process is not None:
            node = process(self, node)
            node.parent = parent_node
            if parent_node:
                parent_node.children[child_id] = node
        return node

    traverse_node_recursively.original = original  # type: ignore[attr-defined]
    traverse_node_recursively.handler = handler  # type: ignore[attr-defined]
    traverser.traverse_node_recursively = traverse_node_recursively


def _find_clauses_by_class(ast_nodes: Any) -> None:
    node_base = ast_nodes.Node
    original = node_base.find_clauses
    descends = _subclass_test((ast_nodes.Expression, ast_nodes.UpdateExpressionFunction))

    def find_clauses(self: Any, clause_types: Any) -> list[Any]:
        clauses = []
        for child in self.children or []:
            kind = type(child)
            if kind in clause_types:
                clauses.append(child)
                continue
            if descends(kind):
                clauses.extend(child.find_clauses(clause_types))
        return clauses

    find_clauses.original = original  # type: ignore[attr-defined]
    node_base.find_clauses = find_clauses


_ATOMIC = (type(None), bool, int, float, str, bytes)


def _copy_nodes_directly(ast_nodes: Any) -> None:
    node_base = ast_nodes.Node
    is_node = _subclass_test(node_base)

    def copied(value: Any, memo: dict[int, Any]) -> Any:
        kind = type(value)
        if kind in _ATOMIC:
            return value
        found = memo.get(id(value), memo)
        if found is not memo:
            return found
        if kind is list:
            new: list[Any] = []
            memo[id(value)] = new
            for element in value:
                new.append(copied(element, memo))
            return new
        if is_node(kind):
            return value.__deepcopy__(memo)
        return copy.deepcopy(value, memo)

    def __deepcopy__(self: Any, memo: dict[int, Any]) -> Any:
        kind: Any = type(self)
        new = kind.__new__(kind)
        memo[id(self)] = new
        state = {}
        for name, value in self.__dict__.items():
            state[name] = copied(value, memo)
        new.__dict__.update(state)
        return new

    node_base.__deepcopy__ = __deepcopy__
