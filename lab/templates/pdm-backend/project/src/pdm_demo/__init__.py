def hello() -> str:
    return "pdm-demo"
