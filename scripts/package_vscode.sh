#!/usr/bin/env bash
# Package editors/vscode as a .vsix: `bash scripts/package_vscode.sh [OUT_DIR]` (default dist/).
# Needs Node 18+ and npm with the npm registry (or a cache holding package-lock.json's
# packages). The grammar is regenerated first, so the .vsix highlights today's layers.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
out="$(mkdir -p "${1:-$repo/dist}" && cd "${1:-$repo/dist}" && pwd)"
python="${PYTHON:-python3}"
PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}" "$python" "$repo/scripts/vscode_grammar.py"
cd "$repo/editors/vscode"
npm ci --no-audit --no-fund
version="$(node -p 'require("./package.json").version')"
vsix="$out/netlang-$version.vsix"
npx --no-install vsce package --skip-license --allow-missing-repository --out "$vsix"
# the client library must be inside: VS Code installs no dependencies of a .vsix
"$python" - "$vsix" <<'PY'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
for needed in ("extension/extension.js", "extension/syntaxes/netlang.tmLanguage.json",
               "extension/node_modules/vscode-languageclient/package.json"):
    assert needed in names, f"{needed} is missing from {sys.argv[1]}"
print(f"{sys.argv[1]}: {len(names)} files")
PY
