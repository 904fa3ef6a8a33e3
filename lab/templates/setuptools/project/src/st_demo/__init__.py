def hello() -> str:
    return "st-demo"
