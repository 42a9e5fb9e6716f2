/// <reference path="./cortado-plugin-types.d.ts" />
declare module 'cortado:plugin/gate@0.3.0' {
  export function evaluate(plan: Plan): Decision;
  export type Plan = import('cortado:plugin/types@0.3.0').Plan;
  export type Decision = import('cortado:plugin/types@0.3.0').Decision;
}
