//! Records the git revision the binary was built from (provenance in spike files).

use std::process::Command;

fn main() {
    let git = |args: &[&str]| Command::new("git").args(args).output().ok().filter(|o| o.status.success());
    if let Some(out) = git(&["rev-parse", "--short=12", "HEAD"]) {
        let mut revision = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|o| !o.stdout.is_empty()) {
            revision.push_str("-modified");
        }
        println!("cargo:rustc-env=VOLLEY_GIT_REVISION={revision}");
    }
    // Rebuilt when HEAD moves (a commit or a checkout), not on every edit.
    for path in [".git/HEAD", ".git/index"] {
        if std::path::Path::new(path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
}
