def hello() -> str:
    return "dyn-demo"
