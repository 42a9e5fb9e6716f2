//! The catalogue of first-party plugins (which lets the host register their functions without
//! loading them) must say what the bundled components' manifests say.

use std::sync::Arc;

use cortado::plugin::bindings::Hook;
use cortado::plugin::broker::{AwsSlot, Broker};
use cortado::plugin::catalog::{EXTERNAL, FIRST_PARTY};
use cortado::plugin::instance::{Limits, LoadedPlugin, PluginSpec};
use cortado::plugin::{bundled, runtime};

#[test]
fn catalogue_matches_the_bundled_manifests() {
    // `external` is a host command, never a component.
    for fp in FIRST_PARTY.iter().filter(|fp| fp.name != EXTERNAL) {
        let bytes = bundled(fp.name).unwrap_or_else(|| panic!("{} is not bundled: run scripts/build-plugins.sh before building", fp.name));
        let spec = PluginSpec {
            name: fp.name.into(),
            digest: runtime::sha256_hex(bytes),
            config_json: "null".into(),
            preopens: vec![],
            limits: Limits::default(),
            broker: Arc::new(Broker::new(fp.name, vec![], AwsSlot::new(None, None))),
        };
        let m = LoadedPlugin::load(bytes, spec).unwrap_or_else(|e| panic!("{}: {e:#}", fp.name)).manifest;
        assert_eq!(m.name, fp.name);
        let mut from_manifest: Vec<(String, usize, usize)> =
            m.functions.iter().map(|f| (f.name.clone(), f.min_args as usize, (f.max_args - f.min_args) as usize)).collect();
        let mut from_catalogue: Vec<(String, usize, usize)> = fp.signatures.iter().map(|(n, a, b)| ((*n).to_owned(), *a, *b)).collect();
        from_manifest.sort();
        from_catalogue.sort();
        assert_eq!(from_manifest, from_catalogue, "{}: functions", fp.name);
        let gate = fp.gate || cortado::plugin::catalog::OPT_IN_GATES.contains(&fp.name);
        assert_eq!(m.hooks.contains(&Hook::Gate), gate, "{}: gate hook", fp.name);
        assert_eq!(m.hooks.contains(&Hook::Verifier), fp.verifier, "{}: verifier hook", fp.name);
    }
}
