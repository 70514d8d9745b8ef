"""ecs-credential-probe: which AWS identity does this ECS task really get?"""

__version__ = "0.1.0"
TOOL_NAME = "ecs-credential-probe"
