declare module 'cortado:plugin/types@0.1.0' {
  /**
   * # Variants
   * 
   * ## `"debug"`
   * 
   * ## `"info"`
   * 
   * ## `"warn"`
   * 
   * ## `"error"`
   */
  export type Level = 'debug' | 'info' | 'warn' | 'error';
  /**
   * # Variants
   * 
   * ## `"resolver"`
   * 
   * ## `"verifier"`
   * 
   * ## `"gate"`
   */
  export type Hook = 'resolver' | 'verifier' | 'gate';
  /**
   * A template function the plugin provides (also a Jsonnet native function).
   */
  export interface FunctionSpec {
    name: string,
    /**
     * The number of arguments it requires.
     */
    minArgs: number,
    /**
     * The most arguments it accepts, counting the required ones (>= min-args).
     */
    maxArgs: number,
    description: string,
  }
  /**
   * An IAM-style capability the plugin asks for, e.g. action `ssm:GetParameter` on resource
   * `arn:aws:ssm:*:*:parameter/myapp/*`. The operator grants it (or not) in the config.
   */
  export interface Capability {
    action: string,
    resource: string,
  }
  export interface Manifest {
    name: string,
    version: string,
    description: string,
    functions: Array<FunctionSpec>,
    hooks: Array<Hook>,
    capabilities: Array<Capability>,
  }
  /**
   * # Variants
   * 
   * ## `"ok"`
   * 
   * ## `"ng"`
   * 
   * ## `"skip"`
   */
  export type CheckStatus = 'ok' | 'ng' | 'skip';
  export interface Check {
    name: string,
    status: CheckStatus,
    message: string,
  }
  /**
   * What a gate sees before anything changes.
   */
  export interface Plan {
    /**
     * deploy, scale, refresh, rollback, delete, run
     */
    command: string,
    cluster: string,
    service?: string,
    region: string,
    account: string,
    /**
     * ARN of the identity that deploys (STS GetCallerIdentity).
     */
    caller: string,
    /**
     * RFC 3339 UTC.
     */
    time: string,
    /**
     * Rendered task definition (JSON), the resolved task definition ARN if known.
     */
    taskDefinition?: string,
    taskDefinitionArn?: string,
    /**
     * Rendered service definition (JSON).
     */
    serviceDefinition?: string,
    /**
     * Unified diff against what runs now (empty when nothing differs).
     */
    diff: string,
    /**
     * Desired count to be set, if the command sets one.
     */
    desiredCount?: bigint,
    /**
     * Task overrides for `run` (JSON).
     */
    overrides?: string,
  }
  export type Decision = DecisionAllow | DecisionWarn | DecisionDeny;
  export interface DecisionAllow {
    tag: 'allow',
  }
  export interface DecisionWarn {
    tag: 'warn',
    val: Array<string>,
  }
  export interface DecisionDeny {
    tag: 'deny',
    val: Array<string>,
  }
}
