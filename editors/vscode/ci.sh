#!/usr/bin/env bash
# Build, test and package the VS Code extension from a clean install, then check the .vsix.
# Needs Node.js 20+ and npm with access to the npm registry. Called by .ci/run.
set -euo pipefail
cd "$(dirname "$0")"

npm ci --no-audit --no-fund
npm run build
npm test
rm -f ./*.vsix
npm run package

version="$(node -p 'require("./package.json").version')"
vsix="twdsl-${version}.vsix"
if [[ ! -f "$vsix" ]]; then
  echo "ci.sh: $vsix was not produced" >&2
  exit 1
fi

# The .vsix is a zip: list its entries with Node (no unzip needed) and check the ones that matter.
node - "$vsix" <<'JS'
const fs = require("fs");
const file = process.argv[2];
const buf = fs.readFileSync(file);
// Find the end-of-central-directory record, then walk the central directory.
let eocd = -1;
for (let i = buf.length - 22; i >= Math.max(0, buf.length - 65557); i--) {
  if (buf.readUInt32LE(i) === 0x06054b50) { eocd = i; break; }
}
if (eocd < 0) { console.error(`ci.sh: ${file} is not a zip file`); process.exit(1); }
const count = buf.readUInt16LE(eocd + 10);
let pos = buf.readUInt32LE(eocd + 16);
const names = new Set();
for (let n = 0; n < count; n++) {
  if (buf.readUInt32LE(pos) !== 0x02014b50) { console.error("ci.sh: bad central directory"); process.exit(1); }
  const nameLen = buf.readUInt16LE(pos + 28), extraLen = buf.readUInt16LE(pos + 30), commentLen = buf.readUInt16LE(pos + 32);
  names.add(buf.toString("utf8", pos + 46, pos + 46 + nameLen));
  pos += 46 + nameLen + extraLen + commentLen;
}
const required = [
  "extension/package.json",
  "extension/out/extension.js",
  "extension/syntaxes/twdsl.tmLanguage.json",
  "extension/language-configuration.json",
  "extension/snippets/twdsl.json",
];
const missing = required.filter((name) => !names.has(name));
const unwanted = [...names].filter((name) => /^extension\/(node_modules|src|tests|e2e|out\/test)\//.test(name));
if (missing.length > 0 || unwanted.length > 0) {
  console.error(`ci.sh: ${file}: missing ${JSON.stringify(missing)}, unwanted ${JSON.stringify(unwanted)}`);
  process.exit(1);
}
console.log(`ci.sh: ${file} holds ${names.size} files, including ${required.join(", ")}`);
JS
