#!/usr/bin/env bash
# Runs every cargo-fuzz target for a fixed time (not part of CI).
#
#   fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]     # default: 60 seconds, every target
#
# Needs a nightly toolchain and cargo-fuzz (`rustup toolchain install nightly`,
# `cargo install cargo-fuzz`). The corpus starts from the project's own files: the case files,
# the bodies of the committed snapshots, and the assertions the cases use. A crash leaves its
# input in fuzz/artifacts/TARGET/; copy it to fuzz/regressions/TARGET/ once fixed, so that
# `cargo test --test integration properties::` replays it on every run.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-60}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(case_file expectation_file xml_body json_body assertions)
fi

# Seeds: one file per input, named after where it came from.
seed() { # seed TARGET NAME < content
  mkdir -p "corpus/$1"
  cat > "corpus/$1/seed-$2"
}
for f in ../cases/*/*.toml ../cases/*/*/*.toml; do
  [ -f "$f" ] || continue
  name="$(basename "$f" .toml)"
  seed case_file "$name" < "$f"
done
printf '[[expected]]\ntrial = "jobs::retry::answer::xml"\nreason = "EM-12"\nexpires = 2027-03-31\n' \
  | seed expectation_file basic
for snap in ../snapshots/*.snap; do
  [ -f "$snap" ] || continue
  name="$(basename "$snap" .snap)"
  # The normalised exchange after insta's header; the body after its first blank line.
  body="$(awk 'h == 2 && b { print } h == 2 && /^$/ { b = 1 } /^---$/ { h++ }' "$snap")"
  [ -n "$body" ] || continue
  case "$name" in
    *__json) seed json_body "$name" <<< "$body" ;;
    *) seed xml_body "$name" <<< "$body" ;;
  esac
  # Three body checks from the cases, a NUL, then the body.
  asserts="$(grep -ho '{ \(path\|root\|link\) = [^}]*}' ../cases/*/*.toml ../cases/*/*/*.toml 2>/dev/null \
    | shuf -n 3 --random-source=<(yes "$name") | paste -sd, -)"
  { printf '%s\0' "$asserts"; printf '%s' "$body"; } | seed assertions "$name"
done

status=0
for target in "${targets[@]}"; do
  echo "== $target: ${seconds}s"
  if ! cargo +nightly fuzz run "$target" "corpus/$target" -- \
      -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1; then
    echo "== $target: FAILED (input in fuzz/artifacts/$target/)"
    status=1
  fi
done
exit $status
