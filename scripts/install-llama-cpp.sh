#!/usr/bin/env bash
# Install llama-cpp-python into a virtualenv, showing the compile's progress.
# The first install compiles llama.cpp from source (5 to 20 minutes on 2 cores); pip caches
# the wheel, so later installs take seconds.
set -euo pipefail
python=$1
requirement=$2
version=${requirement#*==}

if "$python" -c "import importlib.metadata as m, sys; sys.exit(m.version('llama-cpp-python') != '$version')" 2>/dev/null; then
  echo "==> llama-cpp-python $version already installed"
  exit 0
fi

log=$(dirname "$python")/../llama-cpp-build.log
echo "==> Installing $requirement (the first time this compiles llama.cpp: 5 to 20 minutes on 2 cores)"
echo "    full build log: $log"
started=$(date +%s)
# -v makes pip show the compiler's [n/total] progress lines; keep only those on screen.
"$python" -m pip install -v "$requirement" >"$log" 2>&1 </dev/null &
pid=$!
shown=""
while kill -0 "$pid" 2>/dev/null; do
  sleep 5
  step=$(grep -aoE '^\s*\[ *[0-9]+(/[0-9]+|%)\]' "$log" | tail -n 1 | tr -d ' ' || true)
  elapsed=$(( $(date +%s) - started ))
  if [ -n "$step" ] && [ "$step" != "$shown" ]; then
    echo "    compiling llama.cpp $step (${elapsed}s)"
    shown=$step
  fi
done
if ! wait "$pid"; then
  echo "!!  llama-cpp-python failed to install; the end of $log:" >&2
  tail -n 40 "$log" >&2
  exit 1
fi
echo "==> llama-cpp-python $version installed in $(( $(date +%s) - started ))s"
