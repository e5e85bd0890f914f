"""Loaded by Heat from ``plugin_dirs``; the resource itself is bde_heat.resource.

If the native engine cannot be loaded (a wheel built for another Python or glibc), the
error is logged and the plugin offers no resource type, rather than stopping heat-engine.
"""

from oslo_log import log as logging

LOG = logging.getLogger(__name__)

try:
    from bde_heat.resource import resource_mapping  # noqa: F401  (Heat's plugin loader calls it)
except ImportError as e:
    LOG.error(
        "bde-heat: VirtualElephant::VMware::BDE is not available: %s. Reinstall the bde-heat wheel "
        "built for this heat-engine's Python into its environment.",
        e,
    )

    def resource_mapping():
        return {}
