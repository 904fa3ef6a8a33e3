from hatchling.build import *  # noqa: F403
