// The first-party `change-freeze` gate (plugins/change-freeze) in JavaScript: deny inside freeze
// windows (`start <= time < end`) and images from registries not allowed (those of every
// RegisterTaskDefinition step and of the plan's task definition); warn on a deploy with an empty
// diff. A config that cannot be read denies everything (fails closed). No capabilities.
import { Decision, Manifest, Plugin, config, error, exportPlugin, stepsFor } from "cortado-plugin";

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** An RFC 3339 timestamp as milliseconds since the epoch (fractions beyond ms are dropped). */
export function instant(text) {
  const bad = () => new Error(`"${text}" is not an RFC 3339 timestamp (like 2026-12-24T09:00:00+09:00)`);
  const m = typeof text === "string" ? RFC3339.exec(text.trim()) : null;
  if (!m) throw bad();
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number);
  const ms = Date.UTC(y, mo - 1, d, h, mi, Math.min(s, 59));
  const check = new Date(ms);
  if (mo < 1 || mo > 12 || check.getUTCDate() !== d || h > 23 || mi > 59 || s > 60) throw bad();
  const frac = m[7] ? Number(`0${m[7]}`) * 1000 : 0;
  const off = /^[Zz]$/.test(m[8]) ? 0 : (m[8][0] === "-" ? -1 : 1) * (Number(m[8].slice(1, 3)) * 60 + Number(m[8].slice(4, 6))) * 60000;
  return ms + frac - off;
}

/** `*` matches any run of characters; everything else literally. */
const glob = (pattern, text) => new RegExp(`^${pattern.split("*").map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`, "s").test(text);

/** [registry, `registry/repository`] of an image reference, by Docker's rules. */
export function imageName(image) {
  const rest = image.trim().split("@")[0];
  const slash = rest.indexOf("/");
  const first = slash >= 0 ? rest.slice(0, slash) : rest;
  let registry = "docker.io";
  let path = rest;
  if (slash >= 0 && (first.includes(".") || first.includes(":") || first === "localhost")) {
    registry = first;
    path = rest.slice(slash + 1);
  }
  const last = path.lastIndexOf("/") + 1;
  const colon = path.slice(last).lastIndexOf(":");
  let repo = colon >= 0 ? path.slice(0, last + colon) : path;
  if (registry === "docker.io" && !repo.includes("/")) repo = `library/${repo}`;
  return [registry, `${registry}/${repo}`];
}

function allowed(pattern, image) {
  const want = pattern.trim().replace(/\/+$/, "").split("/");
  const have = imageName(image)[1].split("/");
  if (want.length > have.length) return false;
  return want.every((w, i) => (i === 0 ? glob(w.toLowerCase(), have[i].toLowerCase()) : glob(w, have[i])));
}

const getCi = (o, k) => (k in o ? o[k] : Object.entries(o).find(([kk]) => kk.toLowerCase() === k.toLowerCase())?.[1]);

function containers(taskDefinition) {
  let doc;
  try {
    doc = JSON.parse(taskDefinition);
  } catch (e) {
    throw new Error(`the task definition is not valid JSON: ${e.message}`);
  }
  const td = doc && typeof doc === "object" && !Array.isArray(doc) && doc.taskDefinition ? doc.taskDefinition : doc;
  if (!td || typeof td !== "object" || Array.isArray(td)) throw new Error("the task definition is not a JSON object");
  const defs = getCi(td, "containerDefinitions") ?? [];
  if (!Array.isArray(defs)) throw new Error("containerDefinitions is not a list");
  return defs.map((c) => [getCi(c, "name") ?? "", getCi(c, "image") ?? ""]);
}

/**
 * [name, image] of every container the plan would run, each once: every RegisterTaskDefinition
 * step's (what a RunTask's `$ref` to it runs), then the plan's task definition's (the revision a
 * step names by ARN; all a plan without steps carries).
 */
function plannedContainers(plan) {
  const registered = stepsFor(plan, "ecs", "RegisterTaskDefinition");
  const sources = (plan.steps ?? []).flatMap((s, i) => (registered.includes(s) ? [[`steps[${i}] (RegisterTaskDefinition)`, s.input]] : []));
  if (plan.taskDefinition != null) sources.push(["the plan's task definition", plan.taskDefinition]);
  const out = [];
  for (const [what, td] of sources) {
    let found;
    try {
      found = containers(td);
    } catch (e) {
      throw new Error(`${what}: ${e.message}`);
    }
    for (const c of found) if (!out.some(([n, i]) => n === c[0] && i === c[1])) out.push(c);
  }
  return out;
}

function rules(c) {
  c ??= {};
  if (typeof c !== "object" || Array.isArray(c)) throw new Error("the config is not an object");
  const unknown = Object.keys(c).filter((k) => !["freezes", "allowed_registries", "commands"].includes(k)).sort();
  if (unknown.length) throw new Error(`unknown field \`${unknown[0]}\`, expected one of \`freezes\`, \`allowed_registries\`, \`commands\``);
  const freezes = (c.freezes ?? []).map((f, i) => {
    const extra = Object.keys(f).filter((k) => !["start", "end", "reason"].includes(k)).sort();
    if (extra.length) throw new Error(`freezes[${i}]: unknown field \`${extra[0]}\``);
    const at = (key) => {
      try {
        return instant(f[key]);
      } catch (e) {
        throw new Error(`freezes[${i}].${key}: ${e.message}`);
      }
    };
    const [start, end] = [at("start"), at("end")];
    if (end <= start) throw new Error(`freezes[${i}]: end ${f.end} is not after start ${f.start}`);
    return { start, end, endText: f.end, reason: f.reason ?? "" };
  });
  return { freezes, registries: c.allowed_registries ?? [], commands: c.commands ?? [] };
}

class ChangeFreeze extends Plugin {
  constructor() {
    super();
    try {
      this.rules = rules(config());
    } catch (e) {
      this.problem = e.message;
      error(`change-freeze: ${e.message}; every plan will be denied`);
    }
  }
  manifest() {
    return new Manifest("change-freeze", "0.1.0").description("denies changes during freeze windows and images from registries not allowed").gate();
  }
  evaluate(plan) {
    if (this.problem !== undefined) return Decision.deny([`change-freeze config: ${this.problem}`]);
    const { freezes, registries, commands } = this.rules;
    if (commands.length && !commands.includes(plan.command)) return Decision.allow();
    const denials = [];
    const warnings = [];
    if (freezes.length) {
      try {
        const now = instant(plan.time);
        for (const f of freezes) if (f.start <= now && now < f.end) denials.push(`${f.reason || "change freeze"} (frozen until ${f.endText})`);
      } catch (e) {
        denials.push(`cannot check change freezes: the plan's time: ${e.message}`);
      }
    }
    if (registries.length) {
      try {
        for (const [name, image] of plannedContainers(plan)) {
          if (!registries.some((p) => allowed(p, image))) {
            denials.push(`image ${image} of container ${name} comes from ${imageName(image)[0]}, which is not an allowed registry (${registries.join(", ")})`);
          }
        }
      } catch (e) {
        denials.push(`cannot check image registries: ${e.message}`);
      }
    }
    if (plan.command === "deploy" && plan.diff.trim() === "") warnings.push("nothing to deploy: the plan's diff is empty");
    return Decision.fromFindings(denials, warnings);
  }
}

export const { manifest, resolver, verifier, gate } = exportPlugin(ChangeFreeze);
