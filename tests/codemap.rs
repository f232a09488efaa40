//! ARCHITECTURE.md names every folder of the repository, and only folders that exist:
//! its "Folders" table is checked against the folders of the files git tracks.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

fn tracked_folders(root: &Path) -> BTreeSet<String> {
    let out = Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(root)
        .output()
        .expect("git runs (the codemap check reads the tracked files)");
    assert!(out.status.success(), "git ls-files failed");
    String::from_utf8(out.stdout)
        .expect("UTF-8 paths")
        .split('\0')
        .filter_map(|f| Path::new(f).parent())
        .map(|p| p.to_string_lossy().into_owned())
        .filter(|p| !p.is_empty())
        .collect()
}

/// The folders named in the first column of the "Folders" table: `` `a/b/` ``.
fn named_folders(codemap: &str) -> BTreeSet<String> {
    let table = codemap
        .split_once("\n## Folders\n")
        .expect("ARCHITECTURE.md has a \"## Folders\" section")
        .1;
    let table = table.split("\n## ").next().unwrap_or(table);
    table
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split_once("/` |"))
        .map(|(folder, _)| folder.to_string())
        .collect()
}

#[test]
fn every_folder_is_in_the_codemap_and_every_named_folder_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let codemap = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    let named = named_folders(&codemap);
    let tracked = tracked_folders(root);
    // A folder whose files all sit in subfolders (fuzz/seeds) counts through them.
    let missing: Vec<&String> = tracked.difference(&named).collect();
    let gone: Vec<&String> = named
        .iter()
        .filter(|n| {
            !tracked
                .iter()
                .any(|t| t == *n || t.starts_with(&format!("{n}/")))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "folders not in ARCHITECTURE.md's Folders table: {missing:?}"
    );
    assert!(
        gone.is_empty(),
        "folders in the table that do not exist: {gone:?}"
    );
}

#[test]
fn the_table_reader_sees_what_is_written() {
    let text =
        "x\n## Folders\n\n| folder | what |\n|---|---|\n| `a/b/` | c |\n\n## Next\n| `z/` | w |\n";
    assert_eq!(named_folders(text).into_iter().collect::<Vec<_>>(), ["a/b"]);
}
