/// <reference path="./interfaces/cortado-plugin-aws.d.ts" />
/// <reference path="./interfaces/cortado-plugin-gate.d.ts" />
/// <reference path="./interfaces/cortado-plugin-host.d.ts" />
/// <reference path="./interfaces/cortado-plugin-metrics.d.ts" />
/// <reference path="./interfaces/cortado-plugin-resolver.d.ts" />
/// <reference path="./interfaces/cortado-plugin-types.d.ts" />
/// <reference path="./interfaces/cortado-plugin-verifier.d.ts" />
declare module 'cortado:plugin/plugin@0.3.0' {
  export type Manifest = import('cortado:plugin/types@0.3.0').Manifest;
  export type * as CortadoPluginAws030 from 'cortado:plugin/aws@0.3.0'; // import cortado:plugin/aws@0.3.0
  export type * as CortadoPluginHost030 from 'cortado:plugin/host@0.3.0'; // import cortado:plugin/host@0.3.0
  export type * as CortadoPluginMetrics030 from 'cortado:plugin/metrics@0.3.0'; // import cortado:plugin/metrics@0.3.0
  export type * as CortadoPluginTypes030 from 'cortado:plugin/types@0.3.0'; // import cortado:plugin/types@0.3.0
  export * as resolver from 'cortado:plugin/resolver@0.3.0'; // export cortado:plugin/resolver@0.3.0
  export * as verifier from 'cortado:plugin/verifier@0.3.0'; // export cortado:plugin/verifier@0.3.0
  export * as gate from 'cortado:plugin/gate@0.3.0'; // export cortado:plugin/gate@0.3.0
  /**
  * Called once after instantiation; the host validates it against the config.
  */
  export function manifest(): Manifest;
}
