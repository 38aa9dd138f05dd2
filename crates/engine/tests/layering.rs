//! The engine's layering rule, checked on its sources: each service module imports down
//! (types, store, assets, upstreams, other services below it) and never back to the engine
//! (`crate::engine`, `Engine`, `Inner`), and the services do not import each other in a
//! cycle. Comments are not code and are skipped.

use std::collections::BTreeMap;
use std::path::Path;

/// The service modules (paths under `src/`) and the path other modules reach them by
/// (`crate::access` holds the Gate, `crate::tools` the tool context).
const SERVICES: &[(&str, &str)] = &[
    ("upstreams.rs", "upstreams"),
    ("catalogs.rs", "catalogs"),
    ("billing.rs", "billing"),
    ("probe.rs", "probe"),
    ("retention.rs", "retention"),
    ("transcribe.rs", "transcribe"),
    ("media_tools.rs", "media_tools"),
    ("video_jobs.rs", "video_jobs"),
    ("generated.rs", "generated"),
    ("totals.rs", "totals"),
    ("attachments.rs", "attachments"),
    ("tool_loop.rs", "tool_loop"),
    ("access/gate.rs", "access"),
    ("tools/context.rs", "tools"),
];

/// The code of the service module `file` (under `src/`), without comments.
fn code_of(file: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read service module {}: {e}", path.display()));
    without_comments(&text)
}

/// `text` with comment lines and trailing `//` comments removed.
fn without_comments(text: &str) -> String {
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether `code` uses `word` as a whole identifier (`Engine`, not `EngineError`).
fn uses_word(code: &str, word: &str) -> bool {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    code.match_indices(word).any(|(at, _)| {
        let before = code[..at].chars().next_back();
        let after = code[at + word.len()..].chars().next();
        !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
    })
}

/// The engine-level names a module on `code` reaches back to (`base64::Engine`, the
/// encoder trait, is not ferry's engine).
fn back_references(code: &str) -> Vec<&'static str> {
    let code = &code.replace("base64::Engine", "");
    let mut found = Vec::new();
    if code.contains("crate::engine") {
        found.push("crate::engine");
    }
    for word in ["Engine", "Inner"] {
        if uses_word(code, word) {
            found.push(word);
        }
    }
    found
}

/// The first cycle in `edges`, as the list of modules on it.
fn find_cycle(edges: &BTreeMap<&str, Vec<&str>>) -> Option<Vec<String>> {
    fn visit<'a>(
        node: &'a str,
        edges: &BTreeMap<&'a str, Vec<&'a str>>,
        path: &mut Vec<&'a str>,
        done: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| *n == node) {
            let mut cycle: Vec<String> = path[at..].iter().map(|n| n.to_string()).collect();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(&node) {
            return None;
        }
        path.push(node);
        for next in edges.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.push(node);
        None
    }
    let mut done = Vec::new();
    edges
        .keys()
        .find_map(|node| visit(node, edges, &mut Vec::new(), &mut done))
}

#[test]
fn services_never_import_the_engine() {
    let offenders: Vec<String> = SERVICES
        .iter()
        .filter_map(|(file, _)| {
            let found = back_references(&code_of(file));
            (!found.is_empty()).then(|| format!("{file}: {}", found.join(", ")))
        })
        .collect();
    assert!(
        offenders.is_empty(),
        "service modules must not reach back into the engine; give them the dependency instead:\n{}",
        offenders.join("\n")
    );
}

#[test]
fn services_do_not_import_each_other_in_a_cycle() {
    let codes: Vec<String> = SERVICES.iter().map(|(file, _)| code_of(file)).collect();
    let mut edges: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for ((_, from), code) in SERVICES.iter().zip(&codes) {
        let to = SERVICES
            .iter()
            .map(|(_, name)| *name)
            .filter(|name| name != from && code.contains(&format!("crate::{name}")))
            .collect();
        edges.insert(from, to);
    }
    assert_eq!(find_cycle(&edges), None, "service imports: {edges:?}");
}

#[test]
fn the_checks_see_what_they_look_for() {
    assert_eq!(
        back_references("use crate::engine::Inner;\nfn f(e: &Engine) {}"),
        ["crate::engine", "Engine", "Inner"]
    );
    assert!(back_references(&without_comments(
        "use base64::Engine as _;\n/// [`Engine`] calls this.\nfn f() -> Result<(), EngineError> {} // Engine"
    ))
    .is_empty());
    let cyclic = BTreeMap::from([("a", vec!["b"]), ("b", vec!["c"]), ("c", vec!["a"])]);
    assert_eq!(
        find_cycle(&cyclic),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    let layered = BTreeMap::from([("a", vec!["b", "c"]), ("b", vec!["c"]), ("c", vec![])]);
    assert_eq!(find_cycle(&layered), None);
}
