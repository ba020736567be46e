#!/usr/bin/env bash
# Copies reference fixtures from ../shared/fixtures into test/fixtures, byte-identical, and records
# their checksums in test/fixtures/SHA256SUMS (checked by test/fixtures.test.ts).
# Usage: scripts/copy-fixtures.sh ops ddim_A unet_cond_A ...   (the tokenizer is never copied)
set -euo pipefail
cd "$(dirname "$0")/.."
src=../shared/fixtures
for d in "$@"; do
  [ "$d" = tokenizer ] && { echo "copy-fixtures: the tokenizer vocabulary stays in ../shared" >&2; exit 1; }
  mkdir -p "test/fixtures/$d"
  cp -r "$src/$d/." "test/fixtures/$d/"
  chmod -R u+w "test/fixtures/$d"
done
( cd test/fixtures && find . -type f ! -name SHA256SUMS | sort | while read -r f; do grep -F "  $f" "../../$src/SHA256SUMS"; done ) > test/fixtures/SHA256SUMS
( cd test/fixtures && sha256sum -c --quiet SHA256SUMS )
echo "copy-fixtures: $(wc -l < test/fixtures/SHA256SUMS) files verified"
