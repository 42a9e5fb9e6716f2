local must_env = std.native('must_env');
{
  deploymentConfiguration: {
    deploymentCircuitBreaker: { enable: true, rollback: true },
    maximumPercent: 200,
    minimumHealthyPercent: 100,
  },
  desiredCount: 1,
  enableExecuteCommand: true,
  healthCheckGracePeriodSeconds: 60,
  launchType: 'FARGATE',
  loadBalancers: [
    { containerName: 'app', containerPort: 80, targetGroupArn: must_env('CORPUS_TARGET_GROUP_ARN') },
  ],
  networkConfiguration: {
    awsvpcConfiguration: {
      assignPublicIp: 'DISABLED',
      securityGroups: [must_env('CORPUS_SECURITY_GROUP')],
      subnets: [must_env('CORPUS_SUBNET_A'), must_env('CORPUS_SUBNET_B')],
    },
  },
  platformVersion: 'LATEST',
  propagateTags: 'SERVICE',
  tags: [{ key: 'team', value: 'corpus' }],
}
