//! Bundles the first-party plugins (built by scripts/build-plugins.sh for wasm32-wasip2) into the
//! binary. A missing component is not a build error: the runtime then says which plugin is missing
//! and how to build it, so `cargo build` alone still works for hacking on the host.

use std::path::PathBuf;

const FIRST_PARTY: &[&str] = &["ssm", "secretsmanager", "tfstate", "cloudformation", "image-policy", "change-freeze", "canary-analysis", "image-signature"];

fn main() {
    println!("cargo:rerun-if-env-changed=CORTADO_PLUGIN_DIR");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let dir = match std::env::var("CORTADO_PLUGIN_DIR") {
        Ok(d) => PathBuf::from(d),
        // target/<profile>/build/cortado-<hash>/out → target/wasm32-wasip2/plugin
        Err(_) => out.ancestors().nth(4).map(|t| t.join("wasm32-wasip2/plugin")).unwrap_or_default(),
    };
    let mut code = String::from("/// First-party plugin components bundled at build time: (name, bytes).\npub const BUNDLED: &[(&str, &[u8])] = &[\n");
    for name in FIRST_PARTY {
        let file = dir.join(format!("cortado_plugin_{}.wasm", name.replace('-', "_")));
        println!("cargo:rerun-if-changed={}", file.display());
        if file.is_file() {
            code.push_str(&format!("    ({name:?}, include_bytes!({:?})),\n", file.display().to_string()));
        }
    }
    code.push_str("];\n");
    std::fs::write(out.join("bundled.rs"), code).expect("write bundled.rs");
}
