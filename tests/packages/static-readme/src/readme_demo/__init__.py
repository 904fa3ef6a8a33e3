def main() -> None:
    print("readme-demo")
