# Sourced by scripts/run and scripts/test: make .venv with the project installed, and make
# sure a redis-server binary exists. Safe to run again; reinstalls only when pyproject changes.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

extras="${1:-}"
python="${PYTHON:-python3}"

if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
fi

stamp=".venv/.installed${extras:+-$extras}"
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/python -m pip install --quiet -e ".${extras:+[$extras]}" 2>&1 | grep -v '^WARNING: Location' || true
  .venv/bin/python -c "import arq, motor, anthropic, starlette" # fail here, not later, if the install broke
  echo "$want" > "$stamp"
fi

# Debian packages: redis-server always (unless REDIS_URL names one); wrk too for the test
# extras, because the benchmarks' smoke test drives the service with it; chromium too.
packages=()
if [ -z "${REDIS_URL:-}" ] || [ -n "$extras" ]; then
  command -v redis-server >/dev/null 2>&1 || packages+=(redis-server)
fi
if [ -n "$extras" ]; then command -v wrk >/dev/null 2>&1 || packages+=(wrk); fi
# The dashboard's browser test drives Debian's chromium through Playwright (Playwright's own
# browser download cannot reach its host from these machines).
if [ -n "$extras" ]; then command -v chromium >/dev/null 2>&1 || packages+=(chromium); fi
if [ ${#packages[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing ${packages[*]} (apt-get)" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
  else
    echo "missing: ${packages[*]}: install with sudo apt-get install ${packages[*]}" >&2
    exit 1
  fi
fi
