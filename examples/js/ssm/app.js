// The first-party `ssm` plugin (plugins/ssm) in JavaScript: `{{ ssm NAME [INDEX] }}` with
// ecspresso's semantics and error texts, GetParameter(NAME, WithDecryption) through the host
// broker, cached per name for the run. Capability: ssm:GetParameter on * (narrowed in `grants:`).
import { AwsError, Manifest, Plugin, aws, exportPlugin } from "cortado-plugin";

/** The value of parameter `name` of type `kind`, with the optional 0-based StringList `index`. */
export function select(name, kind, value, index) {
  if (kind === "StringList") {
    // ecspresso's text, typo included, so scripts matching on it keep working.
    if (index === undefined) throw new Error("the second argument is required for StringList type parrameter to specify the index");
    const values = value.split(",");
    if (!/^\s*[-+]?\d+\s*$/.test(index)) throw new Error(`the index of a StringList must be an integer, but got "${index}"`);
    const i = parseInt(index.trim(), 10);
    if (i < 0 || i >= values.length) throw new Error(`StringList values were [${values.join(" ")}], but the index ${i} is out of range`);
    return values[i];
  }
  if (kind === "String" || kind === "SecureString") {
    if (index !== undefined) throw new Error(`the second argument is supported only for StringList type, but the parameter ${name} is of type ${kind}`);
    return value;
  }
  throw new Error(`received unexpected parameter type: ${kind}`);
}

class Ssm extends Plugin {
  constructor() {
    super();
    this.cache = new Map();
  }
  manifest() {
    return new Manifest("ssm", "0.1.0")
      .description("SSM Parameter Store values (ecspresso's ssm plugin, in JavaScript)")
      .function("ssm", 1, 2, "ssm NAME [INDEX]: a parameter's value; INDEX picks an element of a StringList")
      .capability("ssm:GetParameter", "*");
  }
  parameter(name) {
    if (!this.cache.has(name)) {
      try {
        this.cache.set(name, aws.ssmGetParameter(name, true));
      } catch (e) {
        if (e instanceof AwsError) throw new Error(`something went wrong calling get-parameter API: ${e.message}`);
        throw e;
      }
    }
    return this.cache.get(name);
  }
  resolve(fn, args) {
    if (fn !== "ssm") throw new Error(`function ${fn} is not provided by this plugin`);
    if (args.length > 2) throw new Error(`ssm template function accepts at most 2 parameters, but got ${args.length}`);
    const p = this.parameter(args[0]);
    return select(p.name, p.type, p.value, args[1]);
  }
}

export const { manifest, resolver, verifier, gate } = exportPlugin(Ssm);
