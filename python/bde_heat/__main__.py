"""``python -m bde_heat``: what an operator adds to heat.conf, and the version."""

from __future__ import annotations

import sys

import bde_heat


def main(argv: list[str]) -> int:
    if argv == ["plugin-dir"]:
        print(bde_heat.PLUGIN_DIR)
        return 0
    if argv == ["version"]:
        print(bde_heat.__version__)
        return 0
    print(
        "usage: python -m bde_heat plugin-dir | version\n\n"
        "Add the plugin directory to heat.conf's [DEFAULT] plugin_dirs, e.g.\n"
        f"  plugin_dirs = /usr/lib/heat,{bde_heat.PLUGIN_DIR}\n"
        "and, to keep passwords out of templates, name a credentials file:\n"
        "  [bde_heat]\n"
        "  credentials_file = /etc/heat/bde-credentials.yaml",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
