"""--set NAME=VALUE for the benchmarks: which pixgate settings a run may change, checked as
pixgate itself would check them before anything starts."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from config.settings import VARIABLES

# Variables every benchmark sets itself for the servers it starts.
OWN_VARIABLES = frozenset(
    {
        "PIXGATE_KEY",
        "PIXGATE_SALT",
        "PIXGATE_STORAGE_URL",
        "PIXGATE_BIND",
        "PIXGATE_LOG_LEVEL",
        "PIXGATE_SOURCE_CACHE_TTL",
    }
)


def parse_overrides(
    pairs: Mapping[str, str],
    *,
    own: Collection[str] = OWN_VARIABLES,
    environment_prefixes: tuple[str, ...] = (),
) -> tuple[dict[str, str], dict[str, str]]:
    """The PIXGATE_* settings, and the environment variables (names starting with one of
    `environment_prefixes`). ValueError names an unknown or `own` variable, or a value
    pixgate would refuse."""
    variables = {variable.name: variable for variable in VARIABLES}
    settings, environment = {}, {}
    for name, value in pairs.items():
        if environment_prefixes and name.startswith(environment_prefixes):
            environment[name] = value
        elif name in variables and name not in own:
            try:
                variables[name].parse(value)
            except ValueError as error:
                raise ValueError(f"--set {name}: {error}") from None
            settings[name] = value
        else:
            raise ValueError(f"--set {name}: not a PIXGATE_* setting the benchmark allows")
    return settings, environment
