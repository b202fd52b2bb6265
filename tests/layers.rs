//! The house keeps itself standing (issue 25): every `crate::` path in `src/` names a
//! module below the one it is written in, in the order `src/lib.rs` states. A unit-test
//! module (`#[cfg(test)] mod ...` at the end of a file) may use anything; the commands
//! (`main.rs`) sit above every layer. A failure names the file, the line and both
//! modules. Beside it: no code outside src/model names a neuron model, and no file or
//! function grows past one job's size.

mod common;

use std::path::Path;

/// The order of `src/lib.rs`, bottom first: a module may import only from those before
/// it. Read from lib.rs itself, so that the prose and the test cannot disagree.
fn layer_order() -> Vec<String> {
    let lib = std::fs::read_to_string(common::repo().join("src/lib.rs")).unwrap();
    let start = lib.find("LAYERS:").expect("src/lib.rs states the layers after `LAYERS:`");
    let end = lib[start..].find("END LAYERS").expect("and ends them with `END LAYERS`") + start;
    lib[start + "LAYERS:".len()..end]
        .lines()
        .flat_map(|l| l.trim_start_matches("//!").split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// What lib.rs re-exports at the crate's root (`pub use error::{Error, Result};`): the
/// module each name comes from.
fn root_exports(src: &Path) -> Vec<(String, String)> {
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap_or_default();
    let mut out = Vec::new();
    for line in lib.lines().filter_map(|l| l.strip_prefix("pub use ")) {
        let Some((module, names)) = line.split_once("::") else { continue };
        for name in names.trim_end_matches(';').trim_matches(|c| c == '{' || c == '}').split(',') {
            out.push((name.trim().to_string(), module.to_string()));
        }
    }
    out
}

/// `(file, line, importer, imported)` for every import against `order` in the sources
/// under `src`.
fn violations(src: &Path, order: &[String]) -> Vec<(String, usize, String, String)> {
    let rank = |m: &str| order.iter().position(|o| o == m);
    let exports = root_exports(src);
    let mut out = Vec::new();
    let mut files = Vec::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    for path in files {
        let rel = path.strip_prefix(src).unwrap();
        let top = rel.components().next().unwrap().as_os_str().to_string_lossy().trim_end_matches(".rs").to_string();
        if top == "main" || top == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let body = text.find("#[cfg(test)]\nmod ").map_or(text.as_str(), |i| &text[..i]);
        // Comments dropped, lines kept: a grouped import may span several lines.
        let code: String = body.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n");
        for (at, _) in code.match_indices("crate::") {
            let line = code[..at].matches('\n').count() + 1;
            for name in imported_modules(&code[at + 7..]) {
                let name = exports.iter().find(|(n, _)| *n == name).map_or(name, |(_, m)| m.clone());
                if name.is_empty() || name == top {
                    continue;
                }
                let (Some(from), Some(to)) = (rank(&top), rank(&name)) else {
                    out.push((rel.display().to_string(), line, top.clone(), format!("{name} (not in the layer order)")));
                    continue;
                };
                if to > from {
                    out.push((rel.display().to_string(), line, top.clone(), name));
                }
            }
        }
    }
    out
}

/// The top-level names a path after `crate::` reaches: one (`run::summary`), or each
/// of a group (`{run::summary, spike::Spike}`, over lines).
fn imported_modules(after: &str) -> Vec<String> {
    let ident = |s: &str| s.trim_start().chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect::<String>();
    let Some(group) = after.strip_prefix('{') else { return vec![ident(after)] };
    let (mut depth, mut items, mut start) = (0, Vec::new(), 0);
    for (k, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                items.push(ident(&group[start..k]));
                break;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(ident(&group[start..k]));
                start = k + 1;
            }
            _ => {}
        }
    }
    items
}

#[test]
fn no_module_imports_from_a_module_above_it() {
    let order = layer_order();
    assert!(order.len() > 20 && order[0] == "error" && order.last().unwrap() == "cli", "{order:?}");
    let src = common::repo().join("src");
    // Every top-level module of lib.rs has its place.
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    for module in lib.lines().filter_map(|l| l.strip_prefix("pub mod ")).map(|m| m.trim_end_matches(';')) {
        assert!(order.iter().any(|o| o == module), "module {module} is not in the layer order of src/lib.rs");
    }
    let found = violations(&src, &order);
    let lines: Vec<String> = found.iter().map(|(f, l, a, b)| format!("src/{f}:{l}: {a} imports {b}, a layer above it")).collect();
    assert!(found.is_empty(), "imports against the layer order:\n{}", lines.join("\n"));
}

/// The check finds a planted upward import, naming its file and line.
#[test]
fn an_upward_import_is_found() {
    let order = layer_order();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("record")).unwrap();
    std::fs::write(dir.path().join("record/writer.rs"), "use crate::spike::Spike;\n\nfn f() { crate::run::summary(); }\n").unwrap();
    std::fs::write(dir.path().join("spike.rs"), "use crate::{\n    error::Error,\n    network::{Description, Population},\n};\n").unwrap();
    std::fs::write(
        dir.path().join("units.rs"),
        "// crate::run in a comment is no import\n#[cfg(test)]\nmod tests { use crate::config; }\n",
    )
    .unwrap();
    let found = violations(dir.path(), &order);
    assert_eq!(
        found,
        vec![
            ("record/writer.rs".to_string(), 3, "record".to_string(), "run".to_string()),
            ("spike.rs".to_string(), 1, "spike".to_string(), "network".to_string()),
        ]
    );
}

/// The models `register_models!` in src/model/mod.rs lists: (module, variant, spec).
fn registered_models() -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(common::repo().join("src/model/mod.rs")).unwrap();
    let at = text.rfind("register_models! {").expect("src/model/mod.rs registers its models");
    let block = &text[at + "register_models! {".len()..];
    let block = &block[..block.find('}').unwrap()];
    block
        .split(',')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (module, rest) = l.split_once("::").unwrap_or_else(|| panic!("`module::Variant(Spec)`, got {l}"));
            let (variant, spec) = rest.trim_end_matches(')').split_once('(').unwrap();
            (module.to_string(), variant.to_string(), spec.to_string())
        })
        .collect()
}

/// A neuron model is its file (or folder) under src/model/, its shader and its line in
/// `register_models!`: no code elsewhere in src/ names it (test modules aside), so that
/// adding one touches nothing else.
#[test]
fn no_code_outside_the_models_names_a_model() {
    let repo = common::repo();
    let models = registered_models();
    assert!(models.len() >= 3, "{models:?}");
    let mut found = Vec::new();
    for (module, variant, spec) in &models {
        assert!(
            repo.join(format!("src/model/{module}.rs")).exists() || repo.join(format!("src/model/{module}/mod.rs")).exists(),
            "model {module} has its file"
        );
        // A model without a WGSL twin (a spike source's trains are replayed on the CPU)
        // says so with an empty shader, and the GPU backend refuses it.
        let no_twin = volley::model::kind(module).is_some_and(|k| k.shader.is_empty() && k.gpu.starts_with("refused"));
        assert!(no_twin || repo.join(format!("shaders/{module}.wgsl")).exists(), "model {module} has its shader");
        let group = spec.replace("Spec", "Group");
        let names = [
            format!("NeuronModel::{variant}"),
            format!("NeuronGroup::{variant}"),
            spec.clone(),
            group,
            format!("model::{module}"),
            format!("{module}.wgsl"),
        ];
        let mut stack = vec![repo.join("src")];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    if !path.ends_with("src/model") {
                        stack.push(path);
                    }
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                let body = text.find("#[cfg(test)]\nmod ").map_or(text.as_str(), |i| &text[..i]);
                for (k, line) in body.lines().enumerate() {
                    let code = line.split("//").next().unwrap_or("");
                    for name in names.iter().filter(|n| code.contains(n.as_str())) {
                        found.push(format!("{}:{}: names {name}", path.strip_prefix(&repo).unwrap().display(), k + 1));
                    }
                }
            }
        }
    }
    assert!(found.is_empty(), "models named outside src/model:\n{}", found.join("\n"));
}

/// Files and functions by job (issue 25): no source file over 800 lines and no function
/// over 150, test modules aside, unless the line before says why (`// long: ...`).
#[test]
fn no_file_over_800_lines_and_no_function_over_150() {
    let mut found = Vec::new();
    let mut stack = vec![common::repo().join("src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let body = text.find("#[cfg(test)]\nmod ").map_or(text.as_str(), |i| &text[..i]);
            let lines: Vec<&str> = body.lines().collect();
            let name = path.strip_prefix(common::repo()).unwrap().display().to_string();
            if lines.len() > 800 && !lines.iter().take(20).any(|l| l.contains("// long:")) {
                found.push(format!("{name}: {} lines", lines.len()));
            }
            for (k, line) in lines.iter().enumerate() {
                let code = line.trim_start();
                let indent = &line[..line.len() - code.len()];
                let is_fn = ["fn ", "pub fn ", "pub(crate) fn ", "pub(super) fn ", "unsafe fn ", "pub unsafe fn ", "pub(super) unsafe fn "]
                    .iter()
                    .any(|p| code.starts_with(p));
                if !is_fn || code.ends_with(';') || code.ends_with('}') {
                    continue;
                }
                let end = (k..lines.len()).find(|&j| lines[j] == format!("{indent}}}")).unwrap_or(k);
                let excused = k > 0 && lines[k - 1].contains("// long:");
                if end - k + 1 > 150 && !excused {
                    found.push(format!("{name}:{}: a function of {} lines", k + 1, end - k + 1));
                }
            }
        }
    }
    assert!(found.is_empty(), "too long, with no `// long:` comment saying why:\n{}", found.join("\n"));
}
