/// <reference path="./cortado-plugin-types.d.ts" />
declare module 'cortado:plugin/host@0.3.0' {
  export function log(level: Level, message: string): void;
  /**
   * The plugin's `config:` block from the cortado config, as JSON (`null` when absent).
   */
  export function config(): string;
  export type Level = import('cortado:plugin/types@0.3.0').Level;
}
