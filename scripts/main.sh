#!/usr/bin/env bash
# The README's main command: install, then build the ESRP report for the ChatAnime
# release (found via --data / $CHATANIME_DATA / the cache, or downloaded).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh all
.venv/bin/chatanime report --format html --out out/report.html "$@"
