declare module 'cortado:plugin/types@0.3.0' {
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
   * A native ECS deployment (BLUE_GREEN, LINEAR, CANARY) paused at a PAUSE lifecycle hook of a
   * stage the gate is bound to (`stages:` in the config). The gate's answer decides the hook:
   * allow → CONTINUE, deny → ROLLBACK, inconclusive → asked again at the next poll.
   */
  export interface Stage {
    /**
     * The lifecycle stage, e.g. POST_TEST_TRAFFIC_SHIFT.
     */
    name: string,
    hookId: string,
    serviceDeploymentArn: string,
    /**
     * BLUE_GREEN, LINEAR or CANARY.
     */
    strategy: string,
    targetRevisionArn: string,
    sourceRevisionArns: Array<string>,
    /**
     * Percent of production traffic the target revision receives now, when ECS reports it.
     */
    productionWeight?: number,
    /**
     * Percent of test traffic the target revision receives now, when ECS reports it.
     */
    testWeight?: number,
    /**
     * Seconds since the service deployment was created.
     */
    elapsedSeconds: number,
    bakeTimeInMinutes?: number,
    /**
     * Digest of the plan the deploy was approved with, and that decision's audit record.
     */
    deployPlanDigest?: string,
    parentRunId?: string,
    /**
     * How many times gates were asked at this hook before (0 the first time).
     */
    attempt: number,
    /**
     * The service deployment as DescribeServiceDeployments returns it (JSON).
     */
    deployment: string,
  }
  /**
   * One AWS request the command will send if the gates allow it, exactly as it will be sent.
   */
  export interface Step {
    /**
     * The SDK (signing) service id: ecs, codedeploy, application-autoscaling, logs, ssm, s3.
     */
    service: string,
    /**
     * The API operation: RegisterTaskDefinition, RunTask, UpdateService, CreateDeployment,
     * RegisterScalableTarget, StartSession, ...
     */
    operation: string,
    /**
     * What the request acts on, as a person reads it (`family web`, `service web (...)`).
     */
    resource: string,
    /**
     * apply: sent in order, before the wait; after-wait: sent once the wait succeeded;
     * on-failure: a compensation sent only if an apply step fails before the rollout starts.
     */
    phase: string,
    /**
     * The complete request input as JSON (the API's own field names, e.g.
     * `networkConfiguration.awsvpcConfiguration.assignPublicIp`). A value known only once an
     * earlier step has run is `{"$ref": "steps[I].PATH"}`: step I of this same list, then a
     * path into its response (`steps[0].taskDefinition.taskDefinitionArn`).
     * `{"$text": "...${steps[I].PATH}..."}` stands for that exact text with each `${REF}`
     * replaced by the string REF names (a CodeDeploy AppSpec's content, JSON text).
     */
    input: string,
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
    /**
     * Set when the gate judges a paused lifecycle stage (`command` is then `stage:<NAME>`).
     */
    stage?: Stage,
    /**
     * The exact requests the command will send, in order (`step` says what each field
     * means). Components built for 0.1.0 or 0.2.0 get them as JSON in `overrides` instead:
     * `{"steps": [...]}` when the plan has no overrides, else the key `steps` added to the
     * overrides object; each step there is `{service, operation, resource, phase, input}`
     * with `input` as a JSON value, not a string.
     */
    steps: Array<Step>,
  }
  export type Decision = DecisionAllow | DecisionWarn | DecisionDeny | DecisionInconclusive;
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
  /**
   * Not enough evidence yet (Argo Rollouts' "inconclusive"): at a stage, the hook stays
   * paused and the gate is asked again at the next poll, until the command's `--timeout`,
   * when the deployment is rolled back. Anywhere else it blocks like a deny.
   */
  export interface DecisionInconclusive {
    tag: 'inconclusive',
    val: Array<string>,
  }
}
