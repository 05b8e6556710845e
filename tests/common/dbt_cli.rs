//! Running strata on a dbt-shaped fixture the way a dbt user does: from the project folder,
//! with profiles.yml found as dbt finds it.

use std::path::Path;
use std::process::{Command, Output};

/// strata in `dir` with a clean environment for profiles: `HOME` is `home` (so a developer's
/// own ~/.dbt is never read) and `DBT_PROFILES_DIR` is unset unless `env` sets it.
pub fn strata(dir: &Path, home: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_strata"))
        .current_dir(dir)
        .args(args)
        .env("HOME", home)
        .env_remove("DBT_PROFILES_DIR")
        .envs(env.iter().copied())
        .output()
        .expect("strata runs")
}

/// stdout and stderr of a run that exited 0 (a panic with both otherwise).
pub fn ok(out: Output) -> (String, String) {
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    (stdout, stderr)
}

/// stderr of a run that exited 2 (invalid project or invocation).
pub fn failed(out: Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}\n{stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
    stderr
}
