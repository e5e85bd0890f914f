"""bde-heat's test world on loopback, as a package: `scripts/world` is its command.

config      where the world lives, its ports and names; messages, commands, private files
install     what the world needs on the machine: Debian packages, the Python set, vcsim, the simulator
tls         the world's private CA and the loopback certificate it signs
supervise   starting, watching and stopping processes by pid file
snapshot    the OpenStack databases after their migrations, made once and copied at each `up`
services/   one module per service, its configuration files beside it
ops         what tests do to a running world: networks, outages, killing a Heat engine
cli         the commands
"""
