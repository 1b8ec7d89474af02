#!/usr/bin/env bash
# Installs the real servers bp's tests run against, from Debian's packages:
# a Docker engine, an OCI registry, OpenSSH's server, busybox (for test images),
# iproute2 (network namespaces), openssl (test CAs). Needs root; safe to re-run.
set -euo pipefail
packages=(docker.io docker-registry openssh-server busybox-static iproute2 openssl procps)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" != "0" ]; then
  echo "test-infra: missing ${missing[*]}; install them (as root: apt-get install -y ${missing[*]})" >&2
  exit 1
fi
echo "test-infra: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
