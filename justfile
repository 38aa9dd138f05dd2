# Convenience recipes; every one is a plain cargo command underneath (see README).

# Run the daemon with ./routes.toml and ./state
serve:
    cargo run --release -- serve --bind 127.0.0.1:4000 --state-root ./state --workspace-root . --routes-file ./routes.toml

# All tests (the same command CI runs)
test:
    cargo test --workspace

# The load benchmark of docs/benchmarks.md (release build; daemon pinned to core 0)
bench:
    cargo build --release -p ferry -p ferry-bench
    ./target/release/ferry-bench

# The release binary built with profile-guided optimisation, trained by the load
# benchmark: target/pgo/ferry (needs llvm-profdata of rustc's LLVM; docs/benchmarks.md)
release-pgo:
    ./scripts/release-pgo.sh

fmt:
    cargo fmt --all

lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# A local demo against the bundled fake OpenRouter (no real key, no network)
demo:
    ./scripts/demo.sh
