# Shared settings for Tributary's scripts. Sourced, not run.

# Builds go outside the work tree so every clone on a machine shares one
# incremental build (2-core machines make clean builds expensive).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tributary-target}"
# Tools built from crates.io (the tansu broker) live here, also shared.
export TRIBUTARY_TOOLS_DIR="${TRIBUTARY_TOOLS_DIR:-$HOME/.cache/tributary-tools}"

TANSU_VERSION=0.6.0
# Raised whenever scripts/tansu/fixes.patch changes, so machines rebuild.
# Keep in step with TANSU_BUILD in crates/broker/src/locate.rs.
TANSU_BUILD="$TANSU_VERSION-tributary.6"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
