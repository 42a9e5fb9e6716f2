//! `cortado plugin new NAME --lang rust|python|js [--hook resolver|verifier|gate]`: a plugin project
//! that builds to a component (`bash build.sh` → `NAME.wasm`) and passes its own test out of the box
//! (`bash test.sh`: `cortado plugin test NAME.wasm cases.yaml`, replayed from an empty cassette:
//! the example hooks make no AWS call).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::error::InputError;

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Rust,
    Python,
    Js,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookKind {
    Resolver,
    Verifier,
    Gate,
}

#[derive(clap::Args, Debug)]
pub struct NewArgs {
    /// The plugin's name (letters, digits, `-`, `_`); also the directory written
    pub name: String,
    #[arg(long, value_enum)]
    pub lang: Lang,
    #[arg(long, value_enum, default_value_t = HookKind::Resolver)]
    pub hook: HookKind,
    /// Where to write the project [default: ./NAME]
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// The cortado checkout holding wit/ and the SDKs [default: $CORTADO_ROOT, else the one this
    /// binary was built from]
    #[arg(long)]
    pub sdk: Option<PathBuf>,
}

pub fn run(args: &NewArgs) -> Result<()> {
    let name = &args.name;
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') || !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err(InputError::new(format!("plugin name {name:?}: use a letter, then letters, digits, `-` or `_`")).into());
    }
    let root = sdk_root(args.sdk.as_deref())?;
    let dir = args.dir.clone().unwrap_or_else(|| PathBuf::from(name));
    if dir.exists() && std::fs::read_dir(&dir).map(|mut d| d.next().is_some()).unwrap_or(true) {
        return Err(InputError::in_file(&dir, "exists and is not empty; choose another --dir").into());
    }
    let files = project(name, args.lang, args.hook, &root);
    for (rel, text) in &files {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    eprintln!("wrote {} ({} files); next: cd {} && bash build.sh && bash test.sh", dir.display(), files.len(), dir.display());
    Ok(())
}

/// The checkout with `wit/plugin.wit` and the SDKs.
fn sdk_root(flag: Option<&Path>) -> Result<PathBuf> {
    let candidate = flag
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("CORTADO_ROOT").map(PathBuf::from))
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".."));
    let root = std::fs::canonicalize(&candidate).unwrap_or(candidate);
    if !root.join("wit/plugin.wit").is_file() {
        return Err(InputError::in_file(&root, "has no wit/plugin.wit: point --sdk (or CORTADO_ROOT) at a cortado checkout").into());
    }
    Ok(root)
}

/// Every file of the project, by relative path.
fn project(name: &str, lang: Lang, hook: HookKind, root: &Path) -> Vec<(String, String)> {
    let root = root.display().to_string();
    let ident = name.replace('-', "_");
    let (source_path, source, build) = match lang {
        Lang::Rust => (
            "src/lib.rs",
            rust_source(name, hook),
            format!(
                "set -euo pipefail\ncd \"$(dirname \"$0\")\"\ncargo build --quiet --target wasm32-wasip2 --release\ncp \"${{CARGO_TARGET_DIR:-target}}/wasm32-wasip2/release/{ident}.wasm\" {name}.wasm\n"
            ),
        ),
        Lang::Python => (
            "app.py",
            python_source(name, hook),
            format!("set -euo pipefail\ncd \"$(dirname \"$0\")\"\nbash \"${{CORTADO_ROOT:-{root}}}/plugin-sdk-py/build.sh\" . {name}.wasm\n"),
        ),
        Lang::Js => (
            "app.js",
            js_source(name, hook),
            format!("set -euo pipefail\ncd \"$(dirname \"$0\")\"\nbash \"${{CORTADO_ROOT:-{root}}}/plugin-sdk-js/build.sh\" app.js {name}.wasm\n"),
        ),
    };
    let mut files = vec![
        (source_path.to_owned(), source),
        ("build.sh".to_owned(), format!("#!/usr/bin/env bash\n# Builds {name}.wasm, a wasm32-wasip2 component speaking cortado:plugin@0.1.0.\n{build}")),
        (
            "test.sh".to_owned(),
            format!(
                "#!/usr/bin/env bash\n# The plugin's own test: its cases, AWS answers replayed from the cassette (none are needed yet).\nset -euo pipefail\ncd \"$(dirname \"$0\")\"\n\"${{CORTADO:-cortado}}\" plugin test {name}.wasm cases.yaml \"$@\"\n"
            ),
        ),
        ("cases.yaml".to_owned(), cases(name, hook)),
        ("cases.cassette.json".to_owned(), "{\n  \"version\": 1,\n  \"interactions\": []\n}\n".to_owned()),
        (".gitignore".to_owned(), "/target\n*.wasm\n__pycache__/\n".to_owned()),
        ("README.md".to_owned(), readme(name, lang, hook)),
    ];
    if hook == HookKind::Verifier {
        let td = r#"{"family": "app", "containerDefinitions": [{"name": "app", "image": "nginx:1.27"}, {"name": "side", "image": "busybox"}]}"#;
        files.push(("taskdef.json".to_owned(), format!("{td}\n")));
    }
    if lang == Lang::Rust {
        files.push(("Cargo.toml".to_owned(), format!(
            "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\npublish = false\n\n[lib]\ncrate-type = [\"cdylib\"]\n\n[dependencies]\ncortado-plugin-sdk = {{ path = \"{root}/plugin-sdk\" }}\n\n# A project of its own, even inside another workspace.\n[workspace]\n\n[profile.release]\nopt-level = \"s\"\nlto = true\ncodegen-units = 1\npanic = \"abort\"\nstrip = true\n"
        )));
    }
    files
}

fn rust_source(name: &str, hook: HookKind) -> String {
    let (manifest, body) = match hook {
        HookKind::Resolver => (
            ".function(\"greet\", 1, 1, \"greet NAME: a greeting\")",
            "    fn call(&mut self, function: &str, args: &[String]) -> Result<String, String> {\n        match function {\n            \"greet\" => Ok(format!(\"hello, {}\", args[0])),\n            other => Err(format!(\"function {other} is not provided by this plugin\")),\n        }\n    }\n",
        ),
        HookKind::Verifier => (
            ".verifier()",
            "    fn verify(&mut self, task_definition: &str, _service_definition: Option<&str>) -> Vec<Check> {\n        let containers = match taskdef::containers(task_definition) {\n            Ok(c) => c,\n            Err(e) => return vec![Check::ng(\"task definition\", e)],\n        };\n        containers\n            .into_iter()\n            .map(|c| {\n                let name = format!(\"image of {}\", c.name);\n                if ImageRef::parse(&c.image).tag.is_some_and(|t| t != \"latest\") { Check::ok(name, \"\") } else { Check::ng(name, format!(\"{} has no fixed tag\", c.image)) }\n            })\n            .collect()\n    }\n",
        ),
        HookKind::Gate => (
            ".gate()",
            "    fn evaluate(&mut self, plan: &Plan) -> Decision {\n        if plan.command == \"delete\" { Decision::Deny(vec![\"services are not deleted from here\".into()]) } else { Decision::Allow }\n    }\n",
        ),
    };
    let uses = match hook {
        HookKind::Resolver => "use cortado_plugin_sdk::{Manifest, Plugin, register_plugin};",
        HookKind::Verifier => "use cortado_plugin_sdk::taskdef::{self, ImageRef};\nuse cortado_plugin_sdk::{Check, Manifest, Plugin, register_plugin};",
        HookKind::Gate => "use cortado_plugin_sdk::{Decision, Manifest, Plan, Plugin, register_plugin};",
    };
    format!(
        "//! The {name} cortado plugin.\n{uses}\n\nstruct P;\n\nimpl Plugin for P {{\n    fn new() -> Self {{\n        P\n    }}\n\n    fn manifest(&self) -> Manifest {{\n        Manifest::new(\"{name}\", env!(\"CARGO_PKG_VERSION\")){manifest}\n    }}\n\n{body}}}\n\nregister_plugin!(P);\n"
    )
}

fn python_source(name: &str, hook: HookKind) -> String {
    let (imports, manifest, body) = match hook {
        HookKind::Resolver => (
            "Manifest, Plugin, export",
            ".function(\"greet\", 1, 1, \"greet NAME: a greeting\")",
            "    def resolve(self, function, args):\n        if function != \"greet\":\n            raise ValueError(f\"function {function} is not provided by this plugin\")\n        return f\"hello, {args[0]}\"\n",
        ),
        HookKind::Verifier => (
            "Manifest, Plugin, export, ng, ok",
            ".verifier()",
            "    def verify(self, task_definition, service_definition):\n        checks = []\n        for c in json.loads(task_definition).get(\"containerDefinitions\", []):\n            image = c.get(\"image\", \"\")\n            tag = image.rsplit(\"/\", 1)[-1].partition(\":\")[2]\n            name = f\"image of {c.get('name', '')}\"\n            checks.append(ok(name) if tag and tag != \"latest\" else ng(name, f\"{image} has no fixed tag\"))\n        return checks\n",
        ),
        HookKind::Gate => (
            "Decision, Manifest, Plugin, export",
            ".gate()",
            "    def evaluate(self, plan):\n        if plan.command == \"delete\":\n            return Decision.deny([\"services are not deleted from here\"])\n        return Decision.allow()\n",
        ),
    };
    format!(
        "\"\"\"The {name} cortado plugin.\"\"\"\n\n# Imports stay at the top: componentize-py bundles what is imported while it builds.\nimport json  # noqa: F401 (the verifier reads task definitions)\n\nfrom cortado_plugin import {imports}\n\n\nclass P(Plugin):\n    def manifest(self):\n        return Manifest(\"{name}\", \"0.1.0\"){manifest}\n\n{body}\n\nWitWorld, Resolver, Verifier, Gate = export(P)\n"
    )
}

fn js_source(name: &str, hook: HookKind) -> String {
    let (imports, manifest, body) = match hook {
        HookKind::Resolver => (
            "Manifest, Plugin, exportPlugin",
            ".function(\"greet\", 1, 1, \"greet NAME: a greeting\")",
            "  resolve(fn, args) {\n    if (fn !== \"greet\") throw new Error(`function ${fn} is not provided by this plugin`);\n    return `hello, ${args[0]}`;\n  }\n",
        ),
        HookKind::Verifier => (
            "Manifest, Plugin, exportPlugin, ng, ok",
            ".verifier()",
            "  verify(taskDefinition) {\n    return (JSON.parse(taskDefinition).containerDefinitions ?? []).map((c) => {\n      const image = c.image ?? \"\";\n      const tag = image.split(\"/\").pop().split(\":\")[1];\n      const name = `image of ${c.name ?? \"\"}`;\n      return tag && tag !== \"latest\" ? ok(name) : ng(name, `${image} has no fixed tag`);\n    });\n  }\n",
        ),
        HookKind::Gate => (
            "Decision, Manifest, Plugin, exportPlugin",
            ".gate()",
            "  evaluate(plan) {\n    return plan.command === \"delete\" ? Decision.deny([\"services are not deleted from here\"]) : Decision.allow();\n  }\n",
        ),
    };
    format!(
        "// The {name} cortado plugin.\nimport {{ {imports} }} from \"cortado-plugin\";\n\nclass P extends Plugin {{\n  manifest() {{\n    return new Manifest(\"{name}\", \"0.1.0\"){manifest};\n  }}\n{body}}}\n\nexport const {{ manifest, resolver, verifier, gate }} = exportPlugin(P);\n"
    )
}

fn cases(name: &str, hook: HookKind) -> String {
    let body = match hook {
        HookKind::Resolver => "  - name: greets\n    resolve: {function: greet, args: [world]}\n    expect: {value: \"hello, world\"}\n".to_owned(),
        HookKind::Verifier => "  - name: tags are checked\n    verify: {task_definition: taskdef.json}\n    expect:\n      checks:\n        - {name: image of app, status: ok}\n        - {name: image of side, status: ng, message: no fixed tag}\n".to_owned(),
        HookKind::Gate => "  - name: deploys pass\n    evaluate: {plan: {command: deploy}}\n    expect: {decision: allow}\n  - name: deletes are denied\n    evaluate: {plan: {command: delete}}\n    expect: {decision: deny, reasons: [not deleted]}\n".to_owned(),
    };
    format!("# `cortado plugin test {name}.wasm cases.yaml` (see `cortado plugin test --help`).\nplugin:\n  name: {name}\n  grants: []\ncases:\n{body}")
}

fn readme(name: &str, lang: Lang, hook: HookKind) -> String {
    let lang = match lang {
        Lang::Rust => "Rust",
        Lang::Python => "Python",
        Lang::Js => "JavaScript",
    };
    let hook = match hook {
        HookKind::Resolver => "resolver",
        HookKind::Verifier => "verifier",
        HookKind::Gate => "gate",
    };
    format!(
        "# {name}\n\nA cortado {hook} plugin in {lang}.\n\n```sh\nbash build.sh   # → {name}.wasm\nbash test.sh    # cortado plugin test {name}.wasm cases.yaml\n```\n\nOnce it makes AWS calls, record them once against AWS or a simulator with\n`bash test.sh --record` (grants in `cases.yaml`), and commit `cases.cassette.json`: secrets are\nredacted in it unless listed under `keep_secrets:`.\n"
    )
}
