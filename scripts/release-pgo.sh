#!/usr/bin/env bash
# Builds ferry's release binary with profile-guided optimisation (PGO) into
# target/pgo/ferry: the daemon is built instrumented, run through the load benchmark
# (ferry-bench: every facade protocol, streamed and not, session inputs, keys, and the
# PostgreSQL rows when PostgreSQL is installed), and built again with the profile it wrote,
# so LLVM lays out and inlines the paths that load takes. The code is the same as
# `cargo build --release`'s; only the compiler's choices differ. Measured in
# docs/benchmarks.md ("Where the facade's CPU goes against the hop's, and a
# profile-guided build").
#
# Needs llvm-profdata of the LLVM version rustc was built with (`rustc -vV`):
# `rustup component add llvm-tools`, or Debian's `llvm-<major>` package; or point
# LLVM_PROFDATA at one. To profile the C code too, clang of that version (Debian's
# `clang-<major>`). The benchmark uses nginx, wrk and PostgreSQL when they are installed
# (rows without them are skipped, and their paths are then left out of the profile).
# Three release builds: ~18 minutes on two cores.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=target/pgo
data="$root/$out/profiles"

llvm_major=$(rustc -vV | sed -n 's/^LLVM version: \([0-9]*\).*/\1/p')
if [ -z "$llvm_major" ]; then
    echo "error: cannot read rustc's LLVM version from \`rustc -vV\`" >&2
    exit 1
fi
# The major version a tool of LLVM names first: "LLVM version 22.1.8" (llvm-profdata),
# "clang version 22.1.8" (clang).
major_of() {
    "$1" --version 2>/dev/null | sed -n 's/.*\(LLVM\|clang\) version \([0-9]*\)\..*/\2/p' | head -n 1
}
# The first of the tools named that is installed and of rustc's LLVM version.
first_of_rustc_llvm() {
    local candidate
    for candidate in "$@"; do
        if command -v "$candidate" > /dev/null 2>&1 && [ "$(major_of "$candidate")" = "$llvm_major" ]; then
            echo "$candidate"
            return
        fi
    done
}
host=$(rustc -vV | sed -n 's/^host: //p')
profdata="${LLVM_PROFDATA:-$(first_of_rustc_llvm "llvm-profdata-$llvm_major" \
    "$(rustc --print sysroot)/lib/rustlib/$host/bin/llvm-profdata" llvm-profdata)}"
if [ -z "$profdata" ] || [ "$(major_of "$profdata")" != "$llvm_major" ]; then
    echo "error: no llvm-profdata of LLVM $llvm_major (the version rustc uses) was found." >&2
    echo "Install one (\`rustup component add llvm-tools\`, or Debian's \`apt-get install llvm-$llvm_major\`)" >&2
    echo "or set LLVM_PROFDATA to its path." >&2
    exit 1
fi

# The C in the daemon (SQLite, mimalloc) is instrumented and optimised too when clang of
# the same LLVM is installed (its profiles merge with rustc's); otherwise it is built as
# in a plain release build and only the Rust code is profile-guided.
c_generate=()
c_use=()
clang=$(first_of_rustc_llvm "clang-$llvm_major" clang)
if [ -n "$clang" ]; then
    c_generate=(CC="$clang" CFLAGS="-fprofile-generate=$data")
    c_use=(CC="$clang" CFLAGS="-fprofile-use=$root/$out/ferry.profdata")
else
    echo "note: no clang of LLVM $llvm_major: the C code (SQLite, mimalloc) is built without a profile" >&2
fi

echo "== the benchmark and the fake OpenRouter (plain release build)"
cargo build --release -p ferry-bench -p ferry-fake-openrouter

echo "== ferry, instrumented (target/pgo/generate)"
rm -rf "$data"
mkdir -p "$data"
env "${c_generate[@]}" CARGO_TARGET_DIR="$out/generate" RUSTFLAGS="-Cprofile-generate=$data" \
    cargo build --release -p ferry

echo "== training: the load benchmark against the instrumented daemon ($out/training.txt)"
# The bench stops each daemon with SIGTERM, so each writes its profile as it exits.
./target/release/ferry-bench --ferry "$out/generate/release/ferry" \
    --requests 1500 --streams 300 > "$out/training.txt"
shopt -s nullglob
profiles=("$data"/*.profraw)
if [ ${#profiles[@]} -eq 0 ]; then
    echo "error: the training run wrote no profile into $data" >&2
    exit 1
fi
"$profdata" merge -o "$out/ferry.profdata" "${profiles[@]}"

echo "== ferry, optimised with the profile (target/pgo/use)"
env "${c_use[@]}" CARGO_TARGET_DIR="$out/use" RUSTFLAGS="-Cprofile-use=$root/$out/ferry.profdata" \
    cargo build --release -p ferry
cp "$out/use/release/ferry" "$out/ferry"
echo "built $out/ferry ($out/ferry.profdata, merged from ${#profiles[@]} processes' profiles)"
