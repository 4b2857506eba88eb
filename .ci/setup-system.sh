#!/usr/bin/env bash
# Installs the Debian packages sqlyard's tests and benchmarks need.
# Idempotent: checks each package with dpkg -s and installs only what is
# missing (one `apt-get update`, only if something is missing).
# Services shipped by these packages (mariadb on 3306, haproxy, prometheus,
# apache2, keepalived) are kept from starting during the install: the tests start their
# own mariadbd processes. A service that is already running is left alone.
set -euo pipefail

PACKAGES=(
  mariadb-server
  mariadb-client
  libmariadb-dev
  gcc
  sysbench
  php-cli
  php-mysql
  haproxy
  python3-pymysql
  wordpress
  wordpress-theme-twentytwentythree
  prometheus
  etcd-server
  protobuf-compiler
  keepalived
  curl
  iproute2
)

is_installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! is_installed "$pkg"; then
    missing+=("$pkg")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "setup-system: all ${#PACKAGES[@]} packages already installed"
  exit 0
fi
echo "setup-system: installing ${missing[*]}"

as_root=()
if [ "$(id -u)" -ne 0 ]; then
  as_root=(sudo)
fi

# policy-rc.d exit 101 = "do not start services" for invoke-rc.d.
policy=/usr/sbin/policy-rc.d
created_policy=0
cleanup() {
  if [ "$created_policy" = 1 ]; then
    "${as_root[@]}" rm -f "$policy"
  fi
}
trap cleanup EXIT
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | "${as_root[@]}" tee "$policy" >/dev/null
  "${as_root[@]}" chmod 755 "$policy"
  created_policy=1
fi

"${as_root[@]}" apt-get update
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y --no-install-recommends "${missing[@]}"

for pkg in "${missing[@]}"; do
  if ! is_installed "$pkg"; then
    echo "setup-system: $pkg is still not installed" >&2
    exit 1
  fi
done
echo "setup-system: done"
