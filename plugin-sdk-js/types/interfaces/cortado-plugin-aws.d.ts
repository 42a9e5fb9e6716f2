declare module 'cortado:plugin/aws@0.3.0' {
  export function ssmGetParameter(name: string, withDecryption: boolean): Parameter;
  /**
   * Parameters found, and the names that were not.
   */
  export function ssmGetParameters(names: Array<string>, withDecryption: boolean): [Array<Parameter>, Array<string>];
  export function secretsmanagerDescribeSecret(secretId: string): SecretDescription;
  export function secretsmanagerGetSecretValue(secretId: string): SecretValue;
  export function s3GetObject(bucket: string, key: string): Uint8Array;
  export function cloudformationDescribeStackOutputs(stackName: string): Array<StackOutput>;
  export function cloudformationListExports(): Array<StackExport>;
  export type AwsError = AwsErrorDenied | AwsErrorNotFound | AwsErrorFailed;
  /**
   * The operator's grants do not cover this call; nothing was sent.
   */
  export interface AwsErrorDenied {
    tag: 'denied',
    val: string,
  }
  /**
   * The resource does not exist.
   */
  export interface AwsErrorNotFound {
    tag: 'not-found',
    val: string,
  }
  /**
   * Any other failure (throttling, network, service error).
   */
  export interface AwsErrorFailed {
    tag: 'failed',
    val: string,
  }
  export interface Parameter {
    name: string,
    /**
     * String, StringList or SecureString.
     */
    type: string,
    value: string,
    arn: string,
    version: bigint,
  }
  export interface SecretDescription {
    arn: string,
    name: string,
  }
  export interface SecretValue {
    arn: string,
    name: string,
    secretString?: string,
    versionId: string,
  }
  export interface StackOutput {
    key: string,
    value: string,
    exportName?: string,
  }
  export interface StackExport {
    name: string,
    value: string,
    exportingStackId: string,
  }
}
