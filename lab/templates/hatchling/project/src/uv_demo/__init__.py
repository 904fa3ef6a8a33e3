"""The demo package of uv #15380."""


def hello() -> str:
    return "uv-demo"
