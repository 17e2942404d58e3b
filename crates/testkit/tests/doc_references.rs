//! The repository's documents point at each other by section: `BENCHMARKS.md,
//! "Where the targets stand"`, `docs/server.md ("Event ids")`, and Markdown
//! links with anchors. Sections move and get renamed; this test fails when
//! a pointer in a document or a source comment no longer finds its section,
//! or a link its file or heading.
//!
//! A section is found by a heading or a paragraph's bold lead (`**Event ids
//! (SQLite).**`) whose text starts with, or contains, the quoted words.
//! docs/bench-history.md is an archive kept as written, so its own pointers
//! are not checked (its sections are, as targets).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use regex::Regex;

const ARCHIVES: &[&str] = &["docs/bench-history.md"];
const SOURCE_DIRS: &[&str] = &["crates", "src-tauri/src", "ui/src", "scripts", "tests", "docs", ".ci"];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// Every text file that may hold a pointer, relative to the root.
fn text_files(root: &Path) -> Vec<String> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                if !matches!(name.as_str(), "node_modules" | "target" | "dist" | "gen") {
                    walk(&path, root, out);
                }
            } else if [".md", ".rs", ".ts", ".tsx", ".sh", ".toml"].iter().any(|e| name.ends_with(e))
                || dir.ends_with("scripts")
            {
                out.push(path.strip_prefix(root).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let mut files = vec![];
    for top in std::fs::read_dir(root).unwrap().flatten() {
        let name = top.file_name().to_string_lossy().into_owned();
        if name.ends_with(".md") {
            files.push(name);
        }
    }
    for dir in SOURCE_DIRS {
        walk(&root.join(dir), root, &mut files);
    }
    files.sort();
    files
}

/// Lower case, one space between words, no backticks or trailing dots.
fn normalise(text: &str) -> String {
    let text = text.replace('`', "").replace(", ...", "").replace("...", "");
    text.split_whitespace().collect::<Vec<_>>().join(" ").trim_end_matches(['.', ':']).to_lowercase()
}

/// A document's headings and bold paragraph leads, normalised.
fn sections(markdown: &str) -> Vec<String> {
    let mut out: Vec<String> =
        markdown.lines().filter(|l| l.starts_with('#')).map(|l| normalise(l.trim_start_matches('#'))).collect();
    let bold = Regex::new(r"(?m)^\s*(?:[-*] )?\*\*([^*]+)\*\*").unwrap();
    out.extend(bold.captures_iter(markdown).map(|c| normalise(&c[1])));
    out
}

/// GitHub's anchor for a heading.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The text with line breaks, and the comment markers after them, made
/// single spaces, so a pointer wrapped over two lines reads as one.
fn unwrapped(text: &str) -> String {
    Regex::new(r"\s*\n\s*(?://[!/]?|#|\*)?\s*").unwrap().replace_all(text, " ").into_owned()
}

#[test]
fn every_section_pointer_and_link_resolves() {
    let root = repo_root();
    let files = text_files(&root);
    let documents: BTreeMap<String, String> = files
        .iter()
        .filter(|f| f.ends_with(".md"))
        .map(|f| (f.clone(), std::fs::read_to_string(root.join(f)).unwrap()))
        .collect();
    let sections: BTreeMap<&str, Vec<String>> = documents.iter().map(|(f, t)| (f.as_str(), sections(t))).collect();
    let pointer = Regex::new(r#"([\w./-]*\.md)`?,?\s*\(?\s*"([^"]+)""#).unwrap();
    let link = Regex::new(r"\]\(([^)\s]+)\)").unwrap();

    let mut broken = vec![];
    let mut pointers = 0;
    for file in &files {
        // This file names the patterns it looks for.
        if ARCHIVES.contains(&file.as_str()) || file.ends_with("doc_references.rs") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(root.join(file)) else { continue };
        for c in pointer.captures_iter(&unwrapped(&text)) {
            let (target, quoted) = (&c[1], normalise(&c[2]));
            let Some(heads) = sections.get(target) else {
                // The brief's pages (`service.md`, `../shared/brief/desktop.md`)
                // are outside the repository; a path into it must exist.
                if target.starts_with("docs/") || target.chars().next().is_some_and(|c| c.is_ascii_uppercase()) {
                    broken.push(format!("{file}: {target} does not exist (\"{quoted}\")"));
                }
                continue;
            };
            pointers += 1;
            if !heads.iter().any(|h| h.starts_with(&quoted) || h.contains(&quoted)) {
                broken.push(format!("{file}: {target} has no section \"{quoted}\""));
            }
        }
        if !file.ends_with(".md") {
            continue;
        }
        let dir = Path::new(file).parent().unwrap();
        for c in link.captures_iter(&text) {
            let href = &c[1];
            if href.contains("://") || href.starts_with("mailto:") {
                continue;
            }
            let (path, anchor) = href.split_once('#').unwrap_or((href, ""));
            let target = if path.is_empty() { PathBuf::from(file) } else { dir.join(path) };
            let Ok(resolved) = root.join(&target).canonicalize() else {
                broken.push(format!("{file}: link to {href}: no such file"));
                continue;
            };
            if anchor.is_empty() {
                continue;
            }
            let rel = resolved.strip_prefix(&root).unwrap().to_string_lossy().into_owned();
            let headings = documents.get(&rel).map(|t| t.lines().filter(|l| l.starts_with('#')).collect::<Vec<_>>());
            if !headings.unwrap_or_default().iter().any(|h| slug(h.trim_start_matches('#')) == anchor) {
                broken.push(format!("{file}: link to {href}: no heading with that anchor"));
            }
        }
    }
    assert!(broken.is_empty(), "{} broken pointers or links:\n{}", broken.len(), broken.join("\n"));
    // The pattern must keep finding the pointers, or this test checks nothing.
    assert!(pointers > 50, "only {pointers} section pointers found (67 on 2026-12-06)");
}

#[test]
fn slugs_follow_github() {
    assert_eq!(slug(" Where the targets stand"), "where-the-targets-stand");
    assert_eq!(
        slug(" The charts crate: `cargo bench -p creditdesk-charts --bench charts`"),
        "the-charts-crate-cargo-bench--p-creditdesk-charts---bench-charts"
    );
    assert_eq!(
        slug(" Desktop app (issue 5): cold start, switch, chart, memory"),
        "desktop-app-issue-5-cold-start-switch-chart-memory"
    );
}
