"""Loaded by Heat from ``plugin_dirs``; the resource itself is bde_heat.resource."""

from bde_heat.resource import resource_mapping  # noqa: F401  (Heat's plugin loader calls it)
