/// <reference path="./cortado-plugin-types.d.ts" />
declare module 'cortado:plugin/verifier@0.3.0' {
  /**
   * Rendered task definition and (when the config has one) service definition, as JSON.
   */
  export function verify(taskDefinition: string, serviceDefinition: string | undefined): Array<Check>;
  export type Check = import('cortado:plugin/types@0.3.0').Check;
}
