#!/usr/bin/env bash
# Regenerates the protobuf codecs in src/wire/pb from protocols/*.proto (protons).
set -euo pipefail
cd "$(dirname "$0")/.."
npx protons --strict -o src/wire/pb protocols/*.proto
