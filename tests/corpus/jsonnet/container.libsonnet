// Shared container settings, imported by the task definition.
{
  logging(group, region, prefix):: {
    logDriver: 'awslogs',
    options: {
      'awslogs-group': group,
      'awslogs-region': region,
      'awslogs-stream-prefix': prefix,
    },
  },
}
