"""The activation function's index.py, assembled from its modules: it compiles, its modules share
one namespace without clashing, no import between them is left, nothing but docstrings, comments,
annotations and imports was changed, and it stays small enough for the customer template.

CloudFormation writes inline code to one file and zips it; that zip "cannot exceed 4MB" (AWS docs:
"AWS::Lambda::Function Code", property ZipFile,
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-lambda-function-code.html).
The tighter limit is the template's own (51,200 bytes as a TemplateBody, 1 MB by S3 URL; AWS docs:
"CloudFormation quotas"), which the inline code is part of: the guard keeps it under 40,000 bytes.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from customer_stack.activation import assemble

ROOT = Path(__file__).resolve().parents[2]
INLINE_LIMIT = 40_000


def _sources():
    return {relative: (ROOT / relative).read_text(encoding="utf-8") for relative in assemble.MODULES}


def _bound_names(tree: ast.Module) -> dict[str, str]:
    """Top-level name → what binds it: "def"/"class"/"assign", or the import's text."""
    names: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names[node.name] = "def"
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        names[name.id] = "assign"
        elif isinstance(node, ast.Import | ast.ImportFrom) and not assemble.is_internal_import(node):
            module = node.module if isinstance(node, ast.ImportFrom) else ""
            for alias in node.names:
                names[alias.asname or alias.name.split(".")[0]] = f"import {module}:{alias.name}"
    return names


def test_the_modules_define_no_name_twice():
    """One namespace holds every module: a second definition would silently replace the first."""
    owner: dict[str, tuple[str, str]] = {}
    clashes = []
    for relative, source in _sources().items():
        for name, binding in _bound_names(ast.parse(source)).items():
            if name in owner:
                first, first_binding = owner[name]
                # The same import made twice binds the same object: harmless (and dropped).
                if not (binding == first_binding and binding.startswith("import")):
                    clashes.append(f"{name}: {first} and {relative}")
            else:
                owner[name] = (relative, binding)
    assert clashes == []


def test_the_clash_check_bites():
    a = ast.parse("def _cr_stage():\n    pass\n")
    b = ast.parse("_cr_stage = 1\nimport json\n")
    assert set(_bound_names(a)) & set(_bound_names(b)) == {"_cr_stage"}


def test_the_inline_code_compiles_and_imports_only_what_lambda_has():
    code = assemble.inline_code()
    compile(code, "index.py", "exec")
    tree = ast.parse(code)
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module)
    assert not imported & assemble.ASSEMBLED  # no import between the modules is left
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.Try) and assemble.is_internal_import(n)]
    tops = {name.split(".")[0] for name in imported}
    assert tops - sys.stdlib_module_names == {"boto3", "botocore"}  # what the Lambda runtime has
    # Left out: with it, a dataclass looks its module up in sys.modules, which exec'd code is not in.
    assert not [n for n in tree.body if isinstance(n, ast.ImportFrom) and n.module == "__future__"]


def test_the_inline_code_has_no_undefined_or_redefined_names(tmp_path):
    """pyflakes' checks through ruff: every name a module uses is defined above it or by itself,
    and nothing is defined twice (F811), as one file."""
    index = tmp_path / "index.py"
    index.write_text(assemble.inline_code(), encoding="utf-8")
    ruff = Path(sys.executable).with_name("ruff")
    done = subprocess.run(  # noqa: S603 - our own linter on our own file
        [str(ruff), "check", "--isolated", "--select", "F", "--ignore", "F401", str(index)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _without_docs_and_annotations(tree: ast.Module) -> ast.Module:
    """The test's own account of what the assembly may remove (not the assembler's code)."""
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef) and body:
            first = body[0]
            if isinstance(first, ast.Expr) and isinstance(getattr(first, "value", None), ast.Constant):
                if isinstance(first.value.value, str):
                    node.body = body[1:] or [ast.Pass()]
        if isinstance(node, ast.FunctionDef):
            node.returns = None
            for arg in ast.walk(node.args):
                if isinstance(arg, ast.arg):
                    arg.annotation = None
    return tree


def _statements(tree: ast.Module) -> list[str]:
    return [
        ast.dump(node)
        for node in tree.body
        if not isinstance(node, ast.Import | ast.ImportFrom)
        and not (isinstance(node, ast.Try) and assemble.is_internal_import(node))
    ]


def _import_bindings(nodes) -> set[tuple[str, str, str]]:
    return {
        (node.module if isinstance(node, ast.ImportFrom) else "", alias.name, alias.asname or alias.name)
        for node in nodes
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }


def test_only_docstrings_comments_annotations_and_imports_are_left_out():
    """Each module's code in index.py is its file's syntax tree less those: the same program, and
    every name a module imported from outside is imported in index.py too."""
    parts = dict(assemble.parts())
    assembled = _import_bindings(ast.parse(assemble.inline_code()).body)
    for relative, source in _sources().items():
        original = _without_docs_and_annotations(ast.parse(source))
        assert _statements(ast.parse(parts[relative])) == _statements(original), relative
        external = [n for n in original.body if not assemble.is_internal_import(n)]
        missing = _import_bindings(external) - assembled - {("__future__", "annotations", "annotations")}
        assert not missing, (relative, missing)


def test_the_modules_come_in_dependency_order():
    """A module may use at import time only what the modules before it define."""
    defined: set[str] = set(dir(__builtins__)) if isinstance(__builtins__, dict) else set(dir(__builtins__))
    for relative, source in _sources().items():
        tree = ast.parse(source)
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and assemble.is_internal_import(node):
                missing = {alias.name for alias in node.names} - defined
                assert not missing, f"{relative} uses {missing} before the module defining it"
        defined |= set(_bound_names(tree))


def test_the_inline_code_stays_under_its_guard():
    """Today about 37.6 KB; before the split (signing.py + one handler file, with comments) 39.7 KB."""
    size = len(assemble.inline_code().encode("utf-8"))
    assert size < INLINE_LIMIT, f"index.py is {size} bytes"


def test_the_assembly_drops_internal_imports_and_keeps_the_rest():
    seen: set[str] = set()
    first = assemble.strip_module('"""Doc."""\nimport json\nfrom __future__ import annotations\n', seen)
    source = (
        '"""Doc."""\n'
        "import json\n"
        "import os  # a comment\n"
        "try:\n    from signing import sign_request\nexcept ImportError:\n"
        "    from shared.signing import sign_request\n"
        "from customer_stack.activation.common import _CrFailure\n"
        "def f(a: int) -> int:\n    '''Why.'''\n    return a\n"
        "class C:\n    '''Only a docstring.'''\n"
    )
    second = assemble.strip_module(source, seen)
    assert first == "import json\n"
    assert second == "import os\n\ndef f(a):\n    return a\n\nclass C:\n    pass\n"


@pytest.mark.parametrize(
    ("relative", "names"),
    [
        ("runtime/shared/signing.py", {"runtime.shared.signing", "shared.signing", "signing"}),
        ("customer_stack/vendor_client.py", {"customer_stack.vendor_client", "vendor_client"}),
    ],
)
def test_module_names(relative, names):
    assert assemble.module_names(relative) == names
