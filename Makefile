# vendstack: `make demo` (set up, synthesize, run the sandbox, show it working) and `make test`.
SHELL := /bin/bash
PY := .venv/bin/python
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_DISABLE_VERSION_CHECK := 1
export CDK_DISABLE_CLI_TELEMETRY := true
export PYTHONDONTWRITEBYTECODE := 1
CDK := npx --no-install cdk
# The `vendstack` command (customer_stack/cli.py), run from this checkout.
VENDSTACK := $(PY) -m customer_stack.cli

.PHONY: setup browser synth sandbox demo test lint bench snapshot-update usage-report openapi clean

setup: .venv/.installed .venv/bin/vendstack node_modules/.installed browser

# The browser tests drive Debian's chromium (Playwright downloads no browser here). Installed
# when missing and we are root with apt-get (as in CI); otherwise those tests skip, saying why.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "setup: installing chromium for the browser tests (apt-get)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "setup: no chromium and no root apt-get: the browser tests (tests/browser) will be skipped"; \
	  fi; }

.venv/.installed: requirements.txt
	@test -x $(PY) || python3 -m venv .venv
	@$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

# The `vendstack` console script (pyproject.toml [project.scripts]), an editable install of this checkout.
.venv/bin/vendstack: | .venv/.installed
	@$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .

node_modules/.installed: package.json package-lock.json
	@npm ci --no-audit --no-fund --loglevel=error
	@touch $@

synth: setup
	@rm -rf cdk.out
	@$(CDK) synth --quiet --output cdk.out -c vendstack:sandbox=true > /dev/null
	@mkdir -p dist
	@cp cdk.out/VendstackCustomer.template.json dist/customer.template.json
	@echo "synthesized: cdk.out/ (both stacks), dist/customer.template.json"

sandbox: synth
	@$(VENDSTACK) sandbox

demo: synth
	@$(VENDSTACK) demo

lint: setup
	@.venv/bin/ruff check .
	@.venv/bin/ruff format --check .
	@.venv/bin/mypy

# Bytecode is cached for the tests (unlike the Lambda-like sandbox workers and the benchmarks):
# every xdist worker would otherwise compile the project and pytest's rewritten modules again.
test: setup
	@.venv/bin/ruff check .
	@.venv/bin/ruff format --check .
	@.venv/bin/mypy
	@env -u PYTHONDONTWRITEBYTECODE $(PY) -m pytest -q -n 2 --dist loadgroup

# make bench [PARTS="imports usage"]: all parts, or only the named ones (python -m tests.bench --help)
bench: synth
	@$(PY) -m tests.bench $(PARTS)

# make usage-report FROM=2026-11-01 TO=2026-11-30 TABLE=<DataTable output> [ARGS="--customer <sub> --json"]
usage-report: setup
	@$(VENDSTACK) usage-report --table "$(TABLE)" --from "$(FROM)" --to "$(TO)" $(ARGS)

# docs/openapi.json from the synthesized vendor template (commit the result)
openapi: synth
	@$(VENDSTACK) openapi

snapshot-update: setup
	@$(PY) -m pytest -q tests/infra --snapshot-update

clean:
	@rm -rf cdk.out dist .sandbox
