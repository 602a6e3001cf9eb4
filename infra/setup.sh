#!/usr/bin/env bash
# Sets up everything civiclake needs on a fresh Debian machine, from the
# package registries only. Idempotent: a second run checks stamps and returns
# in seconds.
#   infra/setup.sh            everything
#   infra/setup.sh core       only the core virtualenv, jars and PostgreSQL
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=infra/lib.sh
source "$here/lib.sh"
what="${1:-all}"

bash "$here/secrets.sh"
make_venv core "$here/core/requirements.txt" -e "$ROOT"
bash "$here/spark/fetch_jars.sh"
bash "$here/postgres/setup.sh"
# CJK glyphs for the leaders' brief images (civiclake/brief/render.py looks for this
# file) and for Chinese labels in the dashboards.
if [ ! -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ]; then
  echo "[setup] installing fonts-noto-cjk from Debian packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq fonts-noto-cjk >/dev/null
fi
if [ "$what" = all ]; then
  # The browser + driver the dashboard screenshot tests use (Debian's: nothing
  # downloads a browser at test time); the CJK fonts above render their Chinese labels.
  if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    echo "[setup] installing chromium and chromium-driver from Debian packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium chromium-driver >/dev/null
  fi
  bash "$here/airflow/setup.sh"
  bash "$here/superset/setup.sh"
fi
echo "[setup] done"
