#!/usr/bin/env bash
# Source this file (after node-env.sh): `npm_deps <repo root>` runs `npm ci` unless node_modules already holds
# what package-lock.json names for this Node ABI. The stamp node_modules/.kubekms-deps records
# sha256(package-lock.json) and process.versions.modules (native addons such as pkcs11js are built per ABI), and is
# written only after a successful `npm ci`, so an interrupted install is redone. A copy of a checkout whose
# node_modules is a hard-link copy (`cp -al`) of an installed one skips the install too.
npm_deps_stamp() { # the stamp an install of <root>'s lock file on this Node must carry
  echo "lock=$(sha256sum "$1/package-lock.json" | cut -c1-64) abi=$(node -p process.versions.modules)"
}
npm_deps() {
  local root="$1" want
  want="$(npm_deps_stamp "$root")"
  if [ -f "$root/node_modules/.kubekms-deps" ] && [ "$(cat "$root/node_modules/.kubekms-deps")" = "$want" ]; then
    return 0
  fi
  (cd "$root" && npm ci --no-audit --no-fund >&2) || return 1
  echo "$want" >"$root/node_modules/.kubekms-deps"
}
