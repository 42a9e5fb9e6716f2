// Declarations of cortado's JavaScript plugin SDK (src/index.js). The WIT types come from
// ../types/, generated from wit/plugin.wit by types.sh (never edit those by hand).
/// <reference path="../types/plugin.d.ts" />
import type { Capability, Check, Decision as WitDecision, FunctionSpec, Hook, Level, Manifest as WitManifest, Plan, Stage, Step } from "cortado:plugin/types@0.3.0";
import type { Parameter, SecretDescription, SecretValue, StackExport, StackOutput } from "cortado:plugin/aws@0.3.0";
import type { MetricQuery, MetricResult, TargetHealth } from "cortado:plugin/metrics@0.3.0";

export type { Capability, Check, FunctionSpec, Hook, Level, MetricQuery, MetricResult, Parameter, Plan, SecretDescription, SecretValue, Stage, Step, StackExport, StackOutput, TargetHealth };
export type Decision = WitDecision;

/** Builds the manifest the host validates against the config. */
export declare class Manifest {
  constructor(name: string, version: string);
  readonly name: string;
  readonly version: string;
  readonly functions: FunctionSpec[];
  readonly hooks: Hook[];
  readonly capabilities: Capability[];
  description(text: string): this;
  /** A template function (this also declares the resolver hook). */
  function(name: string, minArgs: number, maxArgs: number, description?: string): this;
  verifier(): this;
  gate(): this;
  /** An AWS read the plugin asks for; the operator grants it (or not) in `grants:`. */
  capability(action: string, resource: string): this;
  hook(h: Hook): this;
  build(): WitManifest;
}

export declare const Decision: {
  allow(): Decision;
  warn(reasons: Iterable<string>): Decision;
  deny(reasons: Iterable<string>): Decision;
  /** Not enough evidence yet: at a lifecycle stage the host asks again at its next poll. */
  inconclusive(reasons: Iterable<string>): Decision;
  /** Deny with the denials if any, else warn with the warnings if any, else allow. */
  fromFindings(denials: string[], warnings: string[]): Decision;
};

/** The plan's steps (the exact requests it will send, in order) calling `operation` of `service`: `stepsFor(plan, "ecs", "RunTask")`. */
export declare function stepsFor(plan: Plan, service: string, operation: string): Step[];
/** A step's request input, parsed from its JSON (`null` if it is not JSON); `{"$ref": "steps[I].PATH"}` marks a value an earlier step returns. */
export declare function stepInput<T = any>(step: Step): T | null;
/** Every container image the plan would run, each once: every RegisterTaskDefinition step's and the plan's task definition's. */
export declare function images(plan: Plan): string[];

export declare function ok(name: string, message?: string): Check;
export declare function ng(name: string, message: string): Check;
export declare function skip(name: string, message: string): Check;

/** A brokered call that failed. */
export declare class AwsError extends Error {
  constructor(kind: "denied" | "not-found" | "failed", message: string);
  readonly kind: "denied" | "not-found" | "failed";
}

/** Brokered, read-only AWS calls: made by the host, only within the plugin's grants; they throw {@link AwsError}. */
export declare const aws: {
  ssmGetParameter(name: string, withDecryption: boolean): Parameter;
  /** Parameters found, and the names that were not. */
  ssmGetParameters(names: string[], withDecryption: boolean): [Parameter[], string[]];
  secretsmanagerDescribeSecret(secretId: string): SecretDescription;
  secretsmanagerGetSecretValue(secretId: string): SecretValue;
  s3GetObject(bucket: string, key: string): Uint8Array;
  cloudformationDescribeStackOutputs(stackName: string): StackOutput[];
  cloudformationListExports(): StackExport[];
};

/** Brokered metric and target-health reads (CloudWatch GetMetricData, ELBv2 DescribeTargetHealth); they throw {@link AwsError}. */
export declare const metrics: {
  /** Datapoints of each query between `start` and `end` (seconds since the epoch), newest first. */
  cloudwatchGetMetricData(queries: MetricQuery[], start: bigint, end: bigint): MetricResult[];
  elbv2DescribeTargetHealth(targetGroupArn: string): TargetHealth[];
};

/** The plugin's `config:` block, parsed (`null` when absent). */
export declare function config<T = unknown>(): T | null;
export declare function log(level: Level, message: unknown): void;
export declare function debug(message: unknown): void;
export declare function info(message: unknown): void;
export declare function warn(message: unknown): void;
export declare function error(message: unknown): void;

/** Override the hooks you implement; the manifest says which ones the host calls. */
export declare class Plugin {
  manifest(): Manifest | WitManifest;
  resolve(fn: string, args: string[]): string;
  verify(taskDefinition: string, serviceDefinition?: string): Check[];
  evaluate(plan: Plan): Decision;
}

/** The exports of the `plugin` world, as `export const { manifest, resolver, verifier, gate } = exportPlugin(MyPlugin)`. */
export declare function exportPlugin(Cls: new () => Plugin): {
  manifest(): WitManifest;
  resolver: { call(fn: string, args: string[]): string };
  verifier: { verify(taskDefinition: string, serviceDefinition: string | undefined): Check[] };
  gate: { evaluate(plan: Plan): Decision };
};
