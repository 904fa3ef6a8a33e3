"""A project built by an in-tree backend that decides its console scripts."""


def main() -> None:
    print("backend-scripts")
