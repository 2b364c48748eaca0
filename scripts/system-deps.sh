#!/usr/bin/env bash
# Debian packages the tests need: Chromium for the wallboard's end-to-end tests; Prometheus
# (promtool) and Alertmanager (amtool) for the rules, the Alertmanager configuration and the
# test with a real Prometheus.
# Called by `make test`; does nothing when everything is already there. Needs root (CI is).
set -euo pipefail
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v prometheus >/dev/null && command -v promtool >/dev/null || missing+=(prometheus)
command -v amtool >/dev/null || missing+=(prometheus-alertmanager)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "system-deps: missing ${missing[*]}; run this script as root (apt-get)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
