def hello() -> str:
    return "kinds-demo"
