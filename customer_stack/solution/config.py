"""What the vendor sells: the solution's functions, from `cdk.json` → `vendstack.solution.functions`.

One parser, used by the synth (the customer template's functions, `stacks/config.py`) and by the
build (the artifacts, `customer_stack/solution/package.py`), so the template and the release name
the same functions. Standard library only. A bad value raises `ConfigError` naming the key, e.g.
`cdk.json context 'vendstack.solution.functions[1].handler' is 'app'; expected module.function`.

    "solution": {"functions": [
      {"name": "api", "source": "customer_stack/solution/api", "handler": "handler.handler", "api": true},
      {"name": "worker", "source": "../my-service/worker", "handler": "app.handler",
       "requirements": "../my-service/worker/requirements.txt", "memory_mb": 1024, "timeout_s": 60,
       "environment": {"LOG_LEVEL": "INFO"}}
    ]}

Paths are relative to the folder that holds `cdk.json`. Without `solution`, the sample (textlens)
is the one function. Each function becomes an artifact of the same name, zipped from `source`
with the usage recorder (`recorder.py`) beside it and its requirements vendored in.

AWS docs: "Lambda runtimes" (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html)
for the Python runtime identifiers; "Lambda quotas"
(https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html): memory 128-10,240 MB,
timeout at most 900 s, environment variables at most 4 KB in all; "Working with Lambda
environment variables" (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html):
the reserved names (`_HANDLER`, `AWS_REGION`, `LAMBDA_TASK_ROOT`, `TZ`, …) cannot be set. This
parser is stricter: nothing under `AWS_`/`LAMBDA_`, and no `PATH`, `LD_LIBRARY_PATH` or
`PYTHONPATH`, which would change what code the signed function loads.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CONTEXT_KEY = "vendstack"
REPORTER_ARTIFACT = "usage-reporter"  # always released beside the vendor's functions
RUNTIMES = ("python3.12", "python3.13", "python3.14")
DEFAULT_RUNTIME = "python3.14"
DEFAULT_MEMORY_MB = 512
DEFAULT_TIMEOUT_S = 15
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
_HANDLER = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\.([A-Za-z_][A-Za-z0-9_]*)$")
_ENV_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,127}$")
_RESERVED_ENV = re.compile(
    r"^(AWS_|LAMBDA_|_HANDLER$|_X_AMZN_TRACE_ID$|TZ$|PATH$|LD_LIBRARY_PATH$|PYTHONPATH$)"
)
# Set by the customer template itself (the usage queue the recorder writes to).
_TEMPLATE_ENV = frozenset({"USAGE_QUEUE_URL"})
_KEYS = frozenset(
    {"name", "source", "handler", "requirements", "runtime", "memory_mb", "timeout_s", "environment", "api"}
)
SAMPLE_FUNCTIONS: list[dict[str, Any]] = [
    {
        "name": "api",
        "source": "customer_stack/solution/api",
        "handler": "handler.handler",
        "api": True,
        "memory_mb": 512,
        "timeout_s": 15,
    }
]


class ConfigError(ValueError):
    """A solution setting is missing or malformed; the message names the key."""


@dataclass(frozen=True)
class SolutionFunction:
    name: str  # the artifact's name, and the function's in the customer template
    source: Path  # absolute
    handler: str
    requirements: Path | None = None
    runtime: str = DEFAULT_RUNTIME
    memory_mb: int = DEFAULT_MEMORY_MB
    timeout_s: int = DEFAULT_TIMEOUT_S
    environment: dict[str, str] = field(default_factory=dict)
    api: bool = False

    @property
    def attribute(self) -> str:
        """Its prefix in the activation resource's attributes (`<Attribute>Key`): worker-2 → Worker2,
        as the custom resource turns artifact names into attribute names."""
        return "".join(part[:1].upper() + part[1:] for part in re.split(r"[-_]", self.name) if part)

    @property
    def python_version(self) -> str:
        """`3.14` for `python3.14`: the wheels vendored into its artifact are for this version."""
        return self.runtime.removeprefix("python")


def _key(path: str) -> str:
    return f"cdk.json context '{CONTEXT_KEY}.{path}'"


def _checked_shape(item: Any, where: str) -> dict:
    """An object with only known settings and the required ones."""
    if not isinstance(item, dict):
        raise ConfigError(f"{_key(where)} must be an object with name, source and handler")
    unknown = sorted(set(item) - _KEYS)
    if unknown:
        raise ConfigError(
            f"{_key(where + '.' + unknown[0])} is not a setting; expected one of {sorted(_KEYS)}"
        )
    for required in ("name", "source", "handler"):
        if required not in item:
            raise ConfigError(f"{_key(where + '.' + required)} is missing")
    return item


def _checked_code(item: dict, where: str, root: Path) -> tuple[str, Path, str]:
    """(name, source folder, handler), the handler's module present in the folder."""
    name = item["name"]
    if not isinstance(name, str) or not _NAME.match(name) or name == REPORTER_ARTIFACT:
        raise ConfigError(
            f"{_key(where + '.name')} is {name!r}; expected lowercase letters, digits and '-' "
            f"(1-31, starting with a letter), not {REPORTER_ARTIFACT!r}"
        )
    source_raw = item["source"]
    source = (root / source_raw).resolve() if isinstance(source_raw, str) and source_raw.strip() else None
    if source is None or not source.is_dir():
        raise ConfigError(
            f"{_key(where + '.source')} is {source_raw!r}; expected a folder (relative to cdk.json)"
        )
    handler = item["handler"]
    match = _HANDLER.match(handler) if isinstance(handler, str) else None
    if match is None or any(keyword.iskeyword(part) for part in handler.split(".")):
        raise ConfigError(
            f"{_key(where + '.handler')} is {handler!r}; expected module.function, e.g. app.handler"
        )
    module = Path(*match.group(1).split("."))
    if not (source / module.with_suffix(".py")).is_file() and not (source / module / "__init__.py").is_file():
        raise ConfigError(
            f"{_key(where + '.handler')} is {handler!r}, but "
            f"{source_raw}/{module.with_suffix('.py').as_posix()} does not exist"
        )
    return name, source, handler


def _checked_requirements(item: dict, where: str, root: Path) -> Path | None:
    if "requirements" not in item:
        return None
    raw = item["requirements"]
    requirements = (root / raw).resolve() if isinstance(raw, str) and raw.strip() else None
    if requirements is None or not requirements.is_file():
        raise ConfigError(f"{_key(where + '.requirements')} is {raw!r}; expected a requirements file")
    return requirements


def _checked_sizes(item: dict, where: str) -> tuple[str, int, int]:
    """(runtime, memory_mb, timeout_s), within what Lambda allows."""
    runtime = item.get("runtime", DEFAULT_RUNTIME)
    if runtime not in RUNTIMES:
        raise ConfigError(f"{_key(where + '.runtime')} is {runtime!r}; expected one of {list(RUNTIMES)}")
    memory = item.get("memory_mb", DEFAULT_MEMORY_MB)
    if isinstance(memory, bool) or not isinstance(memory, int) or not 128 <= memory <= 10240:
        raise ConfigError(
            f"{_key(where + '.memory_mb')} is {memory!r}; expected a whole number from 128 to 10240"
        )
    timeout = item.get("timeout_s", DEFAULT_TIMEOUT_S)
    if isinstance(timeout, bool) or not isinstance(timeout, int) or not 1 <= timeout <= 900:
        raise ConfigError(
            f"{_key(where + '.timeout_s')} is {timeout!r}; expected a whole number from 1 to 900"
        )
    return runtime, memory, timeout


def _checked_environment(item: dict, where: str) -> dict[str, str]:
    environment = item.get("environment", {})
    if not isinstance(environment, dict):
        raise ConfigError(f"{_key(where + '.environment')} must be an object of names to strings")
    for env_name, value in environment.items():
        if not _ENV_NAME.match(env_name) or _RESERVED_ENV.match(env_name) or env_name in _TEMPLATE_ENV:
            raise ConfigError(
                f"{_key(where + '.environment.' + env_name)} is not a name a function may set "
                "(letters, digits, '_'; not AWS_*, LAMBDA_* or another reserved or template-set name)"
            )
        if not isinstance(value, str):
            raise ConfigError(f"{_key(where + '.environment.' + env_name)} is {value!r}; expected a string")
    if sum(len(k) + len(v) for k, v in environment.items()) > 3072:
        raise ConfigError(f"{_key(where + '.environment')} is over 3 KB (Lambda allows 4 KB in all)")
    return dict(environment)


def _function(item: Any, index: int, root: Path) -> SolutionFunction:
    where = f"solution.functions[{index}]"
    item = _checked_shape(item, where)
    name, source, handler = _checked_code(item, where, root)
    requirements = _checked_requirements(item, where, root)
    runtime, memory, timeout = _checked_sizes(item, where)
    environment = _checked_environment(item, where)
    api = item.get("api", False)
    if not isinstance(api, bool):
        raise ConfigError(f"{_key(where + '.api')} is {api!r}; expected true or false")
    return SolutionFunction(
        name=name,
        source=source,
        handler=handler,
        requirements=requirements,
        runtime=runtime,
        memory_mb=memory,
        timeout_s=timeout,
        environment=environment,
        api=api,
    )


def parse_solution(context: dict[str, Any], root: Path) -> tuple[SolutionFunction, ...]:
    """The configured functions (the sample when `solution` is absent), checked; paths resolved
    against `root`, the folder of cdk.json."""
    solution = context.get("solution", {"functions": SAMPLE_FUNCTIONS})
    if not isinstance(solution, dict) or set(solution) != {"functions"}:
        raise ConfigError(f"{_key('solution')} must be an object with one key, 'functions'")
    raw = solution["functions"]
    if not isinstance(raw, list) or not 1 <= len(raw) <= 10:
        raise ConfigError(f"{_key('solution.functions')} must be a list of 1 to 10 functions")
    functions = tuple(_function(item, i, root) for i, item in enumerate(raw))
    names = [f.name for f in functions]
    attributes = [f.attribute for f in functions]
    if len(set(names)) != len(names) or len(set(attributes)) != len(attributes):
        raise ConfigError(f"{_key('solution.functions')} repeats a function name: {names}")
    if sum(f.api for f in functions) > 1:
        raise ConfigError(f'{_key("solution.functions")} has more than one function with "api": true')
    return functions


def load_solution(root: Path) -> tuple[SolutionFunction, ...]:
    """The functions configured in `<root>/cdk.json` (what `vendstack publish` builds)."""
    import json

    try:
        context = json.loads((root / "cdk.json").read_text())["context"][CONTEXT_KEY]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"{root / 'cdk.json'} has no readable context '{CONTEXT_KEY}' ({exc.__class__.__name__})"
        ) from None
    if not isinstance(context, dict):
        raise ConfigError(f"{_key('')[:-2]}' must be an object")
    return parse_solution(context, root)
