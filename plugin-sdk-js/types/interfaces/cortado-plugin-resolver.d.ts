declare module 'cortado:plugin/resolver@0.3.0' {
  export function call(function_: string, args: Array<string>): string;
}
