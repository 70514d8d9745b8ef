"""shim: carry the task's credential variables to every process in the container."""

# The variables the shim carries when present (CONTRACT.md), in the order it writes them.
VARS = (
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "ECS_CONTAINER_METADATA_URI",
    "ECS_CONTAINER_METADATA_URI_V4",
    "ECS_AGENT_URI",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_EXECUTION_ENV",
)
PROFILE_D = "/etc/profile.d/ecs-credentials.sh"
ENVIRONMENT = "/etc/environment"
