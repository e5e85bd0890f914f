"""The ``[bde_heat]`` options of heat.conf, registered when the plugin loads and listed
by ``oslo-config-generator --namespace bde_heat`` (the ``oslo.config.opts`` entry point)."""

from oslo_config import cfg

GROUP = "bde_heat"

OPTS = [
    cfg.StrOpt(
        "credentials_file",
        help=(
            "YAML file of BDE and vCenter credentials by endpoint, used for what a template leaves out, "
            "so no password needs to be in a template (see the bde-heat README). Whenever an entry's "
            "password is used, its TLS settings apply and a template's insecure/ca_file are refused "
            "(unless the file sets allow_template_tls: true)."
        ),
    ),
    cfg.ListOpt(
        "allowed_endpoints",
        default=[],
        help=(
            "BDE and vCenter endpoints (host[:port] or URL) templates may name; any other is refused at "
            "validate. Empty: the endpoints of credentials_file, when it is set (else any)."
        ),
    ),
    cfg.StrOpt(
        "default_resource_pool",
        help=(
            "BDE resource pool for clusters whose template gives no cluster_rp. The 2015 plugin always "
            "used openstackRP; set that here to keep its placement. Unset: BDE chooses among its pools."
        ),
    ),
    cfg.FloatOpt(
        "dhcp_grace_seconds",
        min=1.0,
        help=(
            "Seconds a powered-on VM with its port may wait for an address before it is reset, for "
            "templates that give no dhcp_grace_seconds. Unset: 120. A cloud whose guests or BDE give up "
            "waiting sooner sets it lower."
        ),
    ),
    cfg.FloatOpt(
        "step_timeout",
        default=120.0,
        min=5.0,
        help="Seconds one engine step may take before the poll returns; the next poll goes on.",
    ),
    cfg.FloatOpt(
        "wire_wait_seconds",
        default=5.0,
        min=0.0,
        help=(
            "While wiring, how long one of Heat's polls waits for vCenter to report a changed VM "
            "(a new NIC) and wires it at once; 0 polls only."
        ),
    ),
]


def register(conf=cfg.CONF):
    """Registers the options (twice is harmless)."""
    conf.register_opts(OPTS, group=GROUP)


def list_opts():
    """For oslo-config-generator."""
    return [(GROUP, OPTS)]
