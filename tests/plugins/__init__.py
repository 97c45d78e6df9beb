"""The test suite's pytest plugin package: the fixtures and settings the tiers share.

`tests/conftest.py` registers the fixture modules with `pytest_plugins`, so a test asks for a
fixture by name (`assembly`, `sandbox`, `api`, `aws_world`, `vault`, `world`, `usage`, …) and never
imports it. The plain helpers beside them stay importable (`from tests.plugins.keys_world import
SUB, Vault`):

- `synth`: the session's synthesized app (`assembly`, `vendor_template`, `customer_template`) and
  `load_context`/`synth_app`/`synth_cached`; `synth_cache`: the on-disk cache they read.
- `sandbox`: the sandbox booted once per session (`sandbox`, `api`).
- `keys_world`: moto in-process with the keys, audit and data tables and the KMS key (`aws_world`
  per module, `vault` emptied per test, `log_output`, `atomic_dynamodb` for threaded tests).
- `subscriptions_world`: the Marketplace emulator and the subscription functions' environment
  (`marketplace_emulator`, `subscriptions_env`, `subscriptions_world`).
- `buyers`: helpers (no fixtures) for a buyer in the sandbox: subscribe, register, key, launch,
  SigV4 calls, the agreement's end.
- `delivery_world`: the release and activation resources on top (`delivery_outputs`, `world`,
  `customer_key`); `usage_world`: usage and the Marketplace emulator (`usage_env`, `usage`).
- `hypothesis_profiles`: the `local`/`ci` profiles and `examples(ci=, local=)`;
  `moto_speed`: moto and botocore made cheaper (the sandbox's set, `sandbox/cheaper_moto.py`, then
  memoised pure functions and the SQS retention check); `gc_thresholds`: each test process
  collects cyclic garbage less often (`sandbox/gc_thresholds.py`).
- Helpers without fixtures: `clock` (a clock the test sets), `moto_server` (moto's threaded
  server, quick to stop), `platform_tables`, `fake_vendor` (the vendor's usage API),
  `activation_standins` (the activation custom resource's local stand-ins), `license_tokens`
  (tokens signed as KMS signs them), `config_tree` (the shipped configuration, one value changed),
  `admin_calls` (an operator's SigV4 calls and a customer, in the sandbox). No test module imports
  another test module.

Heavy libraries (moto, boto3, cryptography) are imported inside the fixtures, so a run that uses
none of them (the unit tier) does not pay for them.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
