#!/usr/bin/env bash
# Installs the peers that `npm run bench:compare` measures Promptmill against, into gitignored
# folders under bench/.peers (never project dependencies, never in CI):
#   bench/.peers/node  Portkey gateway (npm, --prefix), with the hono versions its streaming needs
#   bench/.peers/venv  LiteLLM proxy (PyPI litellm[proxy], in a venv)
# Idempotent: a peer whose stamp file matches the pinned versions is not installed again.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
peers="$here/../.peers"
mkdir -p "$peers"

PORTKEY_VERSION=1.15.2
HONO_VERSION=4.9.7
HONO_NODE_SERVER_VERSION=1.13.5
HONO_NODE_WS_VERSION=1.2.0
# newer releases tried (1.108.10-1.110.2) pin litellm-proxy / litellm-proxy-extras / litellm-enterprise
# versions the registry does not have; 1.107.x is avoided (1.107.0 is reported as a compromised release)
LITELLM_VERSION=1.106.12

node_stamp="portkey=$PORTKEY_VERSION hono=$HONO_VERSION node-server=$HONO_NODE_SERVER_VERSION node-ws=$HONO_NODE_WS_VERSION"
if [[ "$(cat "$peers/node/.stamp" 2>/dev/null)" != "$node_stamp" ]]; then
  echo "bench peers: installing Portkey gateway $PORTKEY_VERSION into bench/.peers/node"
  mkdir -p "$peers/node"
  # its own package.json, so npm does not treat the folder as part of the workspace
  [[ -f "$peers/node/package.json" ]] || echo '{"name":"promptmill-bench-peers","private":true}' >"$peers/node/package.json"
  # --ignore-scripts: its postinstall (patch-package) patches nothing the gateway's build needs
  npm install --prefix "$peers/node" --no-audit --no-fund --ignore-scripts \
    "@portkey-ai/gateway@$PORTKEY_VERSION" "hono@$HONO_VERSION" \
    "@hono/node-server@$HONO_NODE_SERVER_VERSION" "@hono/node-ws@$HONO_NODE_WS_VERSION"
  echo "$node_stamp" >"$peers/node/.stamp"
fi

py_stamp="litellm[proxy]=$LITELLM_VERSION"
if [[ "$(cat "$peers/venv/.stamp" 2>/dev/null)" != "$py_stamp" ]]; then
  echo "bench peers: installing LiteLLM proxy $LITELLM_VERSION into bench/.peers/venv"
  python3 -m venv "$peers/venv"
  "$peers/venv/bin/pip" install --quiet --disable-pip-version-check "litellm[proxy]==$LITELLM_VERSION"
  echo "$py_stamp" >"$peers/venv/.stamp"
fi
echo "bench peers: ready in bench/.peers"
