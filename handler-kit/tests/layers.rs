//! The crate's modules are in layers: no file imports, directly or through others, from a file
//! that imports it. This test reads every `use crate::…`, `use super::…` and `use self::…`
//! (and inline `crate::a::b` paths) of `src/`, resolves each to the file of the module it
//! names, and fails on any loop, naming the files and the names that tie them. A child taking
//! names from its own parent module (`super::X`) is not counted: that is how a folder module
//! shares its types. Test modules (`#[cfg(test)] mod tests { … }` at a file's end) are not
//! read.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module path (`["wire", "scan"]`) → file.
type Modules = BTreeMap<Vec<String>, PathBuf>;

fn modules(src: &Path) -> Modules {
    let mut found = Modules::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("src is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = path
                .strip_prefix(src)
                .expect("under src")
                .with_extension("");
            let mut segments: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if matches!(
                segments.last().map(String::as_str),
                Some("mod" | "lib" | "main")
            ) {
                segments.pop();
            }
            found.insert(segments, path);
        }
    }
    found
}

/// The file's text without comments, and without a test module at its end.
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("a source file");
    let without_tests = match text.find("#[cfg(test)]\nmod tests {") {
        Some(at) => &text[..at],
        None => &text,
    };
    without_tests
        .lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every path a `use` tree names, expanded: `a::{b, c::{d, e}}` → `a::b`, `a::c::d`, `a::c::e`.
fn expand(tree: &str) -> Vec<Vec<String>> {
    fn parse(tokens: &[String], at: &mut usize, prefix: &[String], out: &mut Vec<Vec<String>>) {
        let mut path = prefix.to_vec();
        while *at < tokens.len() {
            match tokens[*at].as_str() {
                "{" => {
                    *at += 1;
                    loop {
                        parse(tokens, at, &path, out);
                        match tokens.get(*at).map(String::as_str) {
                            Some(",") => *at += 1,
                            Some("}") => {
                                *at += 1;
                                return;
                            }
                            _ => return,
                        }
                        if tokens.get(*at).map(String::as_str) == Some("}") {
                            *at += 1;
                            return;
                        }
                    }
                }
                "," | "}" => break,
                "::" => *at += 1,
                "as" => *at += 2,
                "self" if !path.is_empty() => *at += 1,
                name => {
                    path.push(name.to_owned());
                    *at += 1;
                }
            }
        }
        out.push(path);
    }
    let mut tokens = Vec::new();
    let mut word = String::new();
    let mut chars = tree.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_alphanumeric() || c == '_' || c == '*' {
            word.push(c);
            continue;
        }
        if !word.is_empty() {
            tokens.push(std::mem::take(&mut word));
        }
        match c {
            ':' if chars.peek() == Some(&':') => {
                chars.next();
                tokens.push("::".to_owned());
            }
            '{' | '}' | ',' => tokens.push(c.to_string()),
            _ => {}
        }
    }
    if !word.is_empty() {
        tokens.push(word);
    }
    let mut out = Vec::new();
    let mut at = 0;
    parse(&tokens, &mut at, &[], &mut out);
    out
}

/// Every module path a file names: its `use` trees and its inline `crate::…` paths.
fn named_paths(code: &str) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("use ") {
        let boundary = at == 0 || !rest[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_');
        rest = &rest[at + 4..];
        if !boundary {
            continue;
        }
        let Some(end) = rest.find(';') else { break };
        paths.extend(expand(&rest[..end]));
        rest = &rest[end..];
    }
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at..];
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(rest.len());
        paths.push(
            rest[..end]
                .split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        );
        rest = &rest[end..];
    }
    paths
}

/// The file `segments`, used in module `here`, refers to (the longest prefix that is a module).
fn resolve(modules: &Modules, here: &[String], segments: &[String]) -> Option<PathBuf> {
    let first = segments.first()?;
    let full: Vec<String> = match first.as_str() {
        "crate" => segments[1..].to_vec(),
        "super" | "self" => {
            let mut base = here.to_vec();
            let mut rest = segments;
            while let Some(head) = rest.first().filter(|h| *h == "super" || *h == "self") {
                if head == "super" {
                    base.pop();
                }
                rest = &rest[1..];
            }
            base.extend(rest.iter().cloned());
            base
        }
        _ => {
            let mut child = here.to_vec();
            child.push(first.clone());
            if !modules.contains_key(&child) {
                return None;
            }
            let mut full = here.to_vec();
            full.extend(segments.iter().cloned());
            full
        }
    };
    (0..=full.len())
        .rev()
        .find_map(|n| modules.get(&full[..n]).cloned())
}

#[test]
fn no_module_imports_from_a_module_that_imports_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let modules = modules(&src);
    let module_of: BTreeMap<&PathBuf, &Vec<String>> = modules.iter().map(|(m, f)| (f, m)).collect();
    // file → file it imports → the names that tie them
    let mut edges: BTreeMap<PathBuf, BTreeMap<PathBuf, BTreeSet<String>>> = BTreeMap::new();
    for (here, file) in &modules {
        for segments in named_paths(&code(file)) {
            let Some(target) = resolve(&modules, here, &segments) else {
                continue;
            };
            let target_module = module_of[&target];
            let is_ancestor = target_module.len() < here.len() && here.starts_with(target_module);
            if &target != file && !is_ancestor {
                edges
                    .entry(file.clone())
                    .or_default()
                    .entry(target)
                    .or_default()
                    .insert(segments.last().cloned().unwrap_or_default());
            }
        }
    }
    // A loop is a file that reaches itself.
    let reaches = |from: &PathBuf| {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<&PathBuf> = edges
            .get(from)
            .map(|e| e.keys().collect())
            .unwrap_or_default();
        while let Some(next) = todo.pop() {
            if seen.insert(next.clone()) {
                todo.extend(edges.get(next).into_iter().flat_map(|e| e.keys()));
            }
        }
        seen
    };
    let mut loops = Vec::new();
    for file in modules.values() {
        if reaches(file).contains(file) {
            let ties: Vec<String> = edges[file]
                .iter()
                .filter(|(to, _)| reaches(to).contains(file))
                .map(|(to, names)| {
                    let names: Vec<&str> = names.iter().map(String::as_str).collect();
                    format!(
                        "{} -> {}: {}",
                        file.strip_prefix(&src).unwrap_or(file).display(),
                        to.strip_prefix(&src).unwrap_or(to).display(),
                        names.join(", ")
                    )
                })
                .collect();
            loops.push(ties.join("; "));
        }
    }
    assert!(
        loops.is_empty(),
        "files in an import loop (a lower module must not import from a higher one):\n{}",
        loops.join("\n")
    );
    assert!(
        modules.len() > 30,
        "the crate's files were found: {}",
        modules.len()
    );
}

#[test]
fn use_trees_are_expanded() {
    let paths = expand("super::{Key, scan::{self, Span as S}, names::*}");
    let text: Vec<String> = paths.iter().map(|p| p.join("::")).collect();
    assert_eq!(
        text,
        [
            "super::Key",
            "super::scan",
            "super::scan::Span",
            "super::names::*"
        ]
    );
}
