def hello() -> str:
    return "poetry-demo"
