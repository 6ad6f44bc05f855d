#!/usr/bin/env bash
# Installs what tributary's tests, benchmarks and demo need, and only what is missing:
# Debian packages for the throwaway servers and the headless browser, an unprivileged user to run
# the servers, npm packages.
# Idempotent: a second run on a ready machine does nothing but check.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || need+=(mariadb-server)
command -v mariadb >/dev/null 2>&1 || need+=(mariadb-client)
command -v mariadb-dump >/dev/null 2>&1 || need+=(mariadb-client)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
# PostGIS for the default PostgreSQL (postgresql-15-postgis-3 on Debian 12): spatial columns' tests.
ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1 || need+=(postgresql-postgis)
command -v etcd >/dev/null 2>&1 || need+=(etcd-server)
# etcdctl: what the etcd demo and docs/etcd.md tell you to watch the keys with.
command -v etcdctl >/dev/null 2>&1 || need+=(etcd-client)
# openssl makes the throwaway CA and certificates of the TLS etcd in the tests (src/testing/servers.ts).
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v sysbench >/dev/null 2>&1 || need+=(sysbench)
command -v setpriv >/dev/null 2>&1 || need+=(util-linux)
# Headless browser for the dashboard test (driven by playwright-core, which downloads none).
command -v chromium >/dev/null 2>&1 || need+=(chromium)
# promtool (from the prometheus package) checks the alert rules in deploy/ in the tests.
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
# zsh and fish load the completion scripts `tributary completion zsh|fish` prints, in the tests.
command -v zsh >/dev/null 2>&1 || need+=(zsh)
command -v fish >/dev/null 2>&1 || need+=(fish)
# pt-online-schema-change (percona-toolkit) runs a real online schema change under a sync in the tests.
command -v pt-online-schema-change >/dev/null 2>&1 || need+=(percona-toolkit)

if [ ${#need[@]} -gt 0 ]; then
  echo "install: Debian packages missing: ${need[*]}" >&2
  if [ "$(id -u)" != 0 ]; then
    echo "install: not root; run: sudo apt-get install -y ${need[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  # policy-rc.d keeps the packages from starting system-wide servers: ours are throwaway.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  apt-get install -y -qq "${need[@]}" >/dev/null
fi

# Servers refuse to run as root: they run as this unprivileged user.
if [ "$(id -u)" = 0 ] && ! id tributary >/dev/null 2>&1; then
  useradd -m -s /bin/bash tributary
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
