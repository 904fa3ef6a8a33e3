"""flit-core demo."""


def hello() -> str:
    return "flit-demo"
