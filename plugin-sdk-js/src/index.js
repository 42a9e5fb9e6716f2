// cortado's plugin SDK for JavaScript: the same shape as the Rust SDK (plugin-sdk/).
//
//   import { Plugin, Manifest, exportPlugin } from "cortado-plugin";
//   class Hello extends Plugin {
//     manifest() { return new Manifest("hello", "0.1.0").function("hello", 1, 1, "hello NAME"); }
//     resolve(fn, args) { return `hello ${args[0]}`; }
//   }
//   export const { manifest, resolver, verifier, gate } = exportPlugin(Hello);
//
// The imports below are the WIT interfaces of wit/plugin.wit; jco/componentize-js binds them when
// plugin-sdk-js/build.sh builds the component (TypeScript types: plugin-sdk-js/types/, generated).
import * as host from "cortado:plugin/host@0.1.0";
import * as rawAws from "cortado:plugin/aws@0.1.0";

export class Manifest {
  constructor(name, version) {
    this.name = name;
    this.version = version;
    this.description_ = "";
    this.functions = [];
    this.hooks = [];
    this.capabilities = [];
  }
  description(text) {
    this.description_ = text;
    return this;
  }
  /** A template function (this also declares the resolver hook). */
  function(name, minArgs, maxArgs, description = "") {
    this.functions.push({ name, minArgs, maxArgs, description });
    return this.hook("resolver");
  }
  verifier() {
    return this.hook("verifier");
  }
  gate() {
    return this.hook("gate");
  }
  /** An AWS read the plugin asks for; the operator grants it (or not) in `grants:`. */
  capability(action, resource) {
    this.capabilities.push({ action, resource });
    return this;
  }
  hook(h) {
    if (!this.hooks.includes(h)) this.hooks.push(h);
    return this;
  }
  build() {
    const { name, version, functions, hooks, capabilities } = this;
    return { name, version, description: this.description_, functions, hooks, capabilities };
  }
}

export const Decision = {
  allow: () => ({ tag: "allow" }),
  warn: (reasons) => ({ tag: "warn", val: [...reasons] }),
  deny: (reasons) => ({ tag: "deny", val: [...reasons] }),
  /** Deny with the denials if any, else warn with the warnings if any, else allow. */
  fromFindings(denials, warnings) {
    if (denials.length) return Decision.deny(denials);
    if (warnings.length) return Decision.warn(warnings);
    return Decision.allow();
  },
};

export const ok = (name, message = "") => ({ name, status: "ok", message });
export const ng = (name, message) => ({ name, status: "ng", message });
export const skip = (name, message) => ({ name, status: "skip", message });

/** A brokered call that failed: `kind` is `denied`, `not-found` or `failed`. */
export class AwsError extends Error {
  constructor(kind, message) {
    super(message);
    this.kind = kind;
  }
}

function brokered(f) {
  return (...args) => {
    try {
      return f(...args);
    } catch (e) {
      const p = e && e.payload;
      if (p && typeof p.tag === "string") throw new AwsError(p.tag, String(p.val));
      throw e;
    }
  };
}

/** Brokered, read-only AWS calls: made by the host, only within the plugin's grants. */
export const aws = {
  ssmGetParameter: brokered(rawAws.ssmGetParameter),
  ssmGetParameters: brokered(rawAws.ssmGetParameters),
  secretsmanagerDescribeSecret: brokered(rawAws.secretsmanagerDescribeSecret),
  secretsmanagerGetSecretValue: brokered(rawAws.secretsmanagerGetSecretValue),
  s3GetObject: brokered(rawAws.s3GetObject),
  cloudformationDescribeStackOutputs: brokered(rawAws.cloudformationDescribeStackOutputs),
  cloudformationListExports: brokered(rawAws.cloudformationListExports),
};

/** The plugin's `config:` block, parsed (`null` when absent). */
export const config = () => JSON.parse(host.config());
export const log = (level, message) => host.log(level, String(message));
export const debug = (m) => log("debug", m);
export const info = (m) => log("info", m);
export const warn = (m) => log("warn", m);
export const error = (m) => log("error", m);

/** Override the hooks you implement; the manifest says which ones the host calls. */
export class Plugin {
  manifest() {
    throw new Error("a plugin must return its manifest");
  }
  resolve(fn) {
    throw new Error(`function ${fn} is not provided by this plugin`);
  }
  verify() {
    return [];
  }
  evaluate() {
    return Decision.allow();
  }
}

/**
 * The exports of the `plugin` world, delegating to one instance of `Cls` made on first use (so
 * `config()` is read at run time, not while the component is pre-initialised at build time).
 */
export function exportPlugin(Cls) {
  let instance;
  const plugin = () => (instance ??= new Cls());
  return {
    manifest() {
      const m = plugin().manifest();
      return m instanceof Manifest ? m.build() : m;
    },
    resolver: {
      call(fn, args) {
        try {
          return plugin().resolve(fn, args);
        } catch (e) {
          // An author's error becomes the result's error, as in the Rust SDK.
          throw e instanceof Error ? e.message : String(e);
        }
      },
    },
    verifier: {
      verify: (taskDefinition, serviceDefinition) => plugin().verify(taskDefinition, serviceDefinition ?? undefined),
    },
    gate: {
      evaluate: (plan) => plugin().evaluate(plan),
    },
  };
}
