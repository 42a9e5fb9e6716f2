//! Hands the contract in `../wit` to `wit_bindgen::generate!` through OUT_DIR.
//!
//! `wit/plugin.wit` is the single source of truth and is copied unchanged, except for one
//! compatibility fix: a record field spelled `resource:` is escaped as `%resource:` (`resource` is a
//! WIT keyword, so current wit-parser rejects the bare name; the escaped name is the same field, so
//! the component's types are unchanged). Once the WIT escapes it itself this is a no-op.
use std::{env, fs, path::PathBuf};

fn main() {
    let src = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap()).join("../wit");
    let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join("wit");
    println!("cargo:rerun-if-changed={}", src.display());
    let _ = fs::remove_dir_all(&out);
    fs::create_dir_all(&out).unwrap();
    for entry in fs::read_dir(&src).unwrap_or_else(|e| panic!("reading {}: {e}", src.display())) {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("wit") {
            continue;
        }
        println!("cargo:rerun-if-changed={}", path.display());
        let text = fs::read_to_string(&path).unwrap();
        let fixed: Vec<String> = text
            .lines()
            .map(|line| {
                let trimmed = line.trim_start();
                if trimmed.starts_with("resource:") {
                    format!("{}%{}", &line[..line.len() - trimmed.len()], trimmed)
                } else {
                    line.to_owned()
                }
            })
            .collect();
        fs::write(out.join(path.file_name().unwrap()), fixed.join("\n") + "\n").unwrap();
    }
}
