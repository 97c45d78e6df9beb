"""Assembles the activation function's `index.py` from the modules it is made of.

CloudFormation writes inline function code to one file (AWS docs: "AWS::Lambda::Function Code",
property ZipFile: "places it in a file named index and zips it to create a deployment package.
This zip file cannot exceed 4MB",
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-lambda-function-code.html).
So the modules are laid one after the other, in dependency order, into one namespace:

- an import of one of these modules is left out (its names are already defined above it), and so
  is a `try`/`except ImportError` that only chooses between such imports;
- `from __future__ import annotations` is left out: functions' annotations are removed (below),
  and the dataclasses' field annotations are plain types, evaluated as the class is made (a
  postponed, string annotation would make `dataclasses` look the module up in `sys.modules`,
  which code run by `exec` is not in);
- an import an earlier module already made is not repeated;
- each module is written back by `ast.unparse` without docstrings, comments and function
  signatures' annotations (the files in the repository keep them all): the inline code is part of
  the customer template, which must stay far below CloudFormation's template size quota (51,200
  bytes as a TemplateBody, 1 MB by S3 URL; AWS docs: "CloudFormation quotas"). Being the same
  syntax tree less those parts, it is the same program.

The modules cannot clash: every activation name starts with `_cr_`/`_CR_`/`_Cr` (the shared
modules' own, `rsa_`/`_rsa_`/`RSA_` in `rsa_verify.py`, the vendor client's and signing's, are
told apart by the same test), and
`tests/unit/test_activation_assembly.py` refuses any name two modules define, any import between
them left in the result, and any change but docstrings, comments, annotations and imports. Standard library
only: the CDK construct (`constructs/activation.py`) and the tests both call `inline_code()`.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Dependency order: each module uses only names of the modules before it.
MODULES = (
    "runtime/shared/signing.py",
    "customer_stack/vendor_client.py",
    "customer_stack/activation/common.py",
    "customer_stack/rsa_verify.py",
    "customer_stack/activation/manifest.py",
    "customer_stack/activation/staging.py",
    "customer_stack/activation/cfn_response.py",
    "customer_stack/activation/handler.py",
)
HEADER = """\
# vendstack: the activation custom resource of this stack (index.py). It runs in YOUR account with
# YOUR access key, so it is inline for you to read. It is these files of the vendstack repository,
# in this order, without their docstrings, comments and type hints (the files have them):
{files}
# Create/Update: asks the vendor for the release this template names, verifies the signed answer
# (this account, stack, request and release, fresh) and stages each artifact in this stack's bucket
# only if its size and sha256 match. Delete: tells the vendor (best effort), always succeeds. The
# secret key, signatures and presigned URLs' queries are never logged or shown.
"""


def module_names(relative: str) -> set[str]:
    """Every dotted name a module can be imported by: runtime/shared/signing.py is
    `runtime.shared.signing`, `shared.signing` (runtime/ on sys.path) or `signing` (in a zip)."""
    parts = relative.removesuffix(".py").split("/")
    return {".".join(parts[i:]) for i in range(len(parts))}


ASSEMBLED = set().union(*(module_names(relative) for relative in MODULES))


def _imports_assembled(node: ast.stmt) -> bool:
    if isinstance(node, ast.Import):
        return all(alias.name in ASSEMBLED for alias in node.names)
    if isinstance(node, ast.ImportFrom):
        return node.level == 0 and node.module in ASSEMBLED
    return False


def is_internal_import(node: ast.stmt) -> bool:
    """An import of an assembled module, or a try/except that only picks between such imports."""
    if isinstance(node, ast.Try):
        bodies = [node.body, *(handler.body for handler in node.handlers)]
        return not (node.orelse or node.finalbody) and all(
            all(_imports_assembled(stmt) for stmt in body) for body in bodies
        )
    return _imports_assembled(node)


def is_future_import(node: ast.stmt) -> bool:
    return isinstance(node, ast.ImportFrom) and node.module == "__future__"


def drop_docstrings(tree: ast.AST) -> None:
    """Removes the docstring of the module and of every class and function (`pass` if alone)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                node.body = node.body[1:] or [ast.Pass()]


def drop_signature_annotations(tree: ast.AST) -> None:
    """Removes functions' parameter and return annotations, which the future import kept from being
    evaluated. Class-level annotations stay: dataclasses read them."""
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            node.returns = None
            arguments = node.args
            for argument in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs):
                argument.annotation = None
            for optional in (arguments.vararg, arguments.kwarg):
                if optional is not None:
                    optional.annotation = None


def _binding(node: ast.Import | ast.ImportFrom, alias: ast.alias) -> str:
    """What an imported name is bound to: `from datetime import UTC` and `from datetime import
    UTC, datetime` bind UTC alike."""
    module = node.module if isinstance(node, ast.ImportFrom) else ""
    return f"{module}:{alias.name} as {alias.asname or alias.name}"


def strip_module(source: str, seen_imports: set[str]) -> str:
    """The module's code as `ast.unparse` writes it (so nothing but what is listed can change):
    without docstrings, comments, signature annotations, imports of assembled modules, the future
    import, or imports an earlier module made; `seen_imports` grows with this module's imports."""
    tree = ast.parse(source)
    drop_docstrings(tree)
    drop_signature_annotations(tree)
    body = []
    for node in tree.body:
        if is_internal_import(node) or is_future_import(node):
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            node.names = [alias for alias in node.names if _binding(node, alias) not in seen_imports]
            if not node.names:
                continue  # an earlier module bound each of these names to the same object
            seen_imports.update(_binding(node, alias) for alias in node.names)
        body.append(node)
    tree.body = body
    return ast.unparse(tree) + "\n"


def parts() -> list[tuple[str, str]]:
    """(relative path, stripped code) of every module, in order."""
    seen: set[str] = set()
    return [
        (relative, strip_module((ROOT / relative).read_text(encoding="utf-8"), seen)) for relative in MODULES
    ]


def inline_code() -> str:
    """The exact text CloudFormation writes to `index.py` for the activation function."""
    files = "\n".join(f"#   {relative}" for relative in MODULES)
    chunks = [HEADER.format(files=files).rstrip("\n")]
    chunks += [f"# ---- {relative} ----\n{code}" for relative, code in parts()]
    return "\n\n".join(chunks)
