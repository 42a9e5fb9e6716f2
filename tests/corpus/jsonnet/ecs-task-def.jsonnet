local container = import 'container.libsonnet';
local env = std.native('env');
local must_env = std.native('must_env');
local region = must_env('AWS_REGION');
{
  containerDefinitions: [
    {
      cpu: 0,
      essential: true,
      environment: [
        { name: 'APP_ENV', value: env('APP_ENV', 'production') },
      ],
      image: must_env('CORPUS_IMAGE'),
      logConfiguration: container.logging(must_env('CORPUS_LOG_GROUP'), region, 'app'),
      name: 'app',
      portMappings: [
        { appProtocol: 'http', containerPort: 80, hostPort: 80, name: 'app-80-tcp', protocol: 'tcp' },
      ],
    },
  ],
  cpu: '512',
  executionRoleArn: must_env('CORPUS_EXECUTION_ROLE_ARN'),
  family: must_env('CORPUS_FAMILY'),
  memory: '1024',
  networkMode: 'awsvpc',
  requiresCompatibilities: ['FARGATE'],
  taskRoleArn: must_env('CORPUS_TASK_ROLE_ARN'),
}
