use std::{
    env,
    path::{Path, PathBuf},
};

use crate::BrokerError;

/// The tansu release Tributary is tested against. Its renamed successor needs
/// a newer compiler than this project's, so the version is pinned.
pub const TANSU_VERSION: &str = "0.6.0";

/// The build `scripts/setup` installs: [`TANSU_VERSION`] with the fixes in
/// `scripts/tansu/fixes.patch`. The suffix changes whenever the patch does,
/// so a machine with an older build installs the new one beside it.
pub const TANSU_BUILD: &str = "0.6.0-tributary.6";

/// Where `scripts/setup` installs tools that are built rather than shipped:
/// `$TRIBUTARY_TOOLS_DIR`, else `$HOME/.cache/tributary-tools`. Outside the
/// work tree so every clone on a machine shares one build.
pub fn tools_dir() -> PathBuf {
    if let Some(dir) = env::var_os("TRIBUTARY_TOOLS_DIR") {
        return PathBuf::from(dir);
    }
    let home = env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(env::temp_dir);
    home.join(".cache").join("tributary-tools")
}

/// Finds the tansu binary: `$TANSU_BIN`, then the tools directory, then `PATH`.
pub fn locate_tansu() -> Result<PathBuf, BrokerError> {
    let mut searched = Vec::new();
    if let Some(explicit) = env::var_os("TANSU_BIN") {
        let path = PathBuf::from(explicit);
        if is_executable(&path) {
            return Ok(path);
        }
        searched.push(format!("TANSU_BIN={}", path.display()));
    }
    let installed = tools_dir()
        .join(format!("tansu-{TANSU_BUILD}"))
        .join("bin")
        .join("tansu");
    if is_executable(&installed) {
        return Ok(installed);
    }
    searched.push(installed.display().to_string());
    if let Some(path) = env::var_os("PATH") {
        for dir in env::split_paths(&path) {
            let candidate = dir.join("tansu");
            if is_executable(&candidate) {
                return Ok(candidate);
            }
        }
    }
    searched.push("$PATH".to_owned());
    Err(BrokerError::NotInstalled {
        version: TANSU_BUILD,
        searched: searched.join(", "),
    })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}
