// Type-checked by `types.sh --check` (never built): a TypeScript gate and resolver against the SDK's
// declarations, so a change in the WIT that the declarations miss fails the suite.
import { AwsError, Decision, Manifest, Plugin, aws, config, exportPlugin, images, info, stepInput, stepsFor, type Plan, type Step } from "cortado-plugin";

interface Config {
  deny_clusters?: string[];
}

class Example extends Plugin {
  override manifest(): Manifest {
    return new Manifest("ts-example", "0.1.0").function("param", 1, 1, "an SSM parameter").gate().capability("ssm:GetParameter", "*");
  }
  override resolve(_fn: string, args: string[]): string {
    try {
      return aws.ssmGetParameter(args[0], true).value;
    } catch (e) {
      if (e instanceof AwsError && e.kind === "not-found") return "";
      throw e;
    }
  }
  override evaluate(plan: Plan): Decision {
    const denied = config<Config>()?.deny_clusters ?? [];
    const count: bigint | undefined = plan.desiredCount;
    info(`${plan.command} on ${plan.cluster} (${count ?? "unchanged"}), images ${images(plan).join(" ")}`);
    const runs: Step[] = stepsFor(plan, "ecs", "RunTask");
    const open = runs.some((s) => stepInput<{ networkConfiguration?: { awsvpcConfiguration?: { assignPublicIp?: string } } }>(s)?.networkConfiguration?.awsvpcConfiguration?.assignPublicIp === "ENABLED");
    if (open) return Decision.deny(["a task would get a public IP"]);
    return denied.includes(plan.cluster) ? Decision.deny([`cluster ${plan.cluster} is frozen`]) : Decision.allow();
  }
}

export const { manifest, resolver, verifier, gate } = exportPlugin(Example);
