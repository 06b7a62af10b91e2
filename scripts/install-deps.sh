#!/usr/bin/env bash
# Installs the Debian packages redswitch needs on the host, when missing:
# debootstrap (node image), haproxy (the head node runs it), PostgreSQL 15
# (probe and fork tests, pgbench), btrfs-progs (forks), chromium (browser test),
# iptables and iproute2 (the agent's fault rules, tested in a network namespace).
set -euo pipefail
need=()
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
for p in debootstrap haproxy postgresql-15 postgresql-client-15 btrfs-progs chromium ca-certificates iptables iproute2; do
  have "$p" || need+=("$p")
done
command -v docker >/dev/null || { echo "docker is not installed: install Docker Engine first" >&2; exit 1; }
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "missing packages: ${need[*]} (run as root, or: sudo apt-get install ${need[*]})" >&2
    exit 1
  fi
  echo "installing: ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # The host's own PostgreSQL must not grab port 5432 or start a cluster.
  mkdir -p /etc/postgresql-common
  grep -q '^create_main_cluster' /etc/postgresql-common/createcluster.conf 2>/dev/null || \
    echo 'create_main_cluster = false' >> /etc/postgresql-common/createcluster.conf
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# A Debian haproxy package starts a system service on install; the rig runs its own.
if command -v systemctl >/dev/null && systemctl is-active -q haproxy 2>/dev/null; then
  systemctl stop haproxy || true
fi
docker info >/dev/null 2>&1 || { echo "the Docker daemon is not running, or this user may not use it" >&2; exit 1; }
