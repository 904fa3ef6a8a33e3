"""A plain project for `cachelab run --project`."""

def hello() -> str:
    return "hello from plain-demo"
