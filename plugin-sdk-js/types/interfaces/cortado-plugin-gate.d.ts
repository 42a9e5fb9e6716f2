/// <reference path="./cortado-plugin-types.d.ts" />
declare module 'cortado:plugin/gate@0.2.0' {
  export function evaluate(plan: Plan): Decision;
  export type Plan = import('cortado:plugin/types@0.2.0').Plan;
  export type Decision = import('cortado:plugin/types@0.2.0').Decision;
}
