"""The suite's fixtures come from the plugin package `tests/plugins/`, registered here: test files
use its fixtures by name and import only its plain helpers (constants, clients, builders)."""

pytest_plugins = [
    "tests.plugins.hypothesis_profiles",
    "tests.plugins.moto_speed",
    "tests.plugins.gc_thresholds",
    "tests.plugins.slow",
    "tests.plugins.xdist_groups",
    "tests.plugins.synth",
    "tests.plugins.sandbox",
    "tests.plugins.keys_world",
    "tests.plugins.delivery_world",
    "tests.plugins.usage_world",
    "tests.plugins.reporter_world",
    "tests.plugins.subscriptions_world",
]
