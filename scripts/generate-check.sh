#!/usr/bin/env bash
# Fails when the committed generated codecs differ from what protocols/*.proto generates.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/generate.sh
if ! git diff --quiet -- src/wire/pb || [ -n "$(git ls-files --others --exclude-standard src/wire/pb)" ]; then
  echo "generated code in src/wire/pb is stale: run npm run generate and commit" >&2
  git status --short src/wire/pb >&2
  exit 1
fi
echo "generated code is fresh"
