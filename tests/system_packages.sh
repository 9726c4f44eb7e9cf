#!/usr/bin/env bash
# Installs the system packages the suite starts for real: Debian's Chromium (browser
# tests, never a downloaded browser), PostgreSQL (the scale-out tests) and Redis (the
# django-q2 broker). Only as root, and only what is missing.
set -euo pipefail
needed=()
command -v chromium >/dev/null || needed+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || needed+=(postgresql)
command -v redis-server >/dev/null || needed+=(redis-server)
if [ ${#needed[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "missing system packages: ${needed[*]} (run as root, or install them with apt-get)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${needed[@]}" >/dev/null
