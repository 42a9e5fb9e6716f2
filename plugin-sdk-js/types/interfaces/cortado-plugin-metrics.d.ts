/// <reference path="./cortado-plugin-aws.d.ts" />
declare module 'cortado:plugin/metrics@0.3.0' {
  /**
   * The queries' datapoints between `start` and `end` (seconds since the Unix epoch); at most 50 queries.
   */
  export function cloudwatchGetMetricData(queries: Array<MetricQuery>, start: bigint, end: bigint): Array<MetricResult>;
  export function elbv2DescribeTargetHealth(targetGroupArn: string): Array<TargetHealth>;
  export type AwsError = import('cortado:plugin/aws@0.3.0').AwsError;
  export interface Dimension {
    name: string,
    value: string,
  }
  /**
   * One CloudWatch metric statistic (a `MetricDataQuery` with a `MetricStat`).
   */
  export interface MetricQuery {
    /**
     * Starts with a lowercase letter; names the result.
     */
    id: string,
    namespace: string,
    metricName: string,
    dimensions: Array<Dimension>,
    /**
     * Sum, Average, Minimum, Maximum, SampleCount or a percentile such as p99.
     */
    stat: string,
    periodSeconds: number,
    unit?: string,
  }
  export interface MetricResult {
    id: string,
    label: string,
    /**
     * Seconds since the Unix epoch, newest first, one per value.
     */
    timestamps: BigInt64Array,
    values: Float64Array,
    /**
     * Complete, InternalError or PartialData.
     */
    statusCode: string,
  }
  export interface TargetHealth {
    id: string,
    port?: number,
    availabilityZone?: string,
    /**
     * initial, healthy, unhealthy, unused, draining, unavailable
     */
    state: string,
    reason?: string,
    description?: string,
  }
}
