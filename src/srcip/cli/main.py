"""Entry point placeholder; replaced by the real CLI."""


def main() -> None:
    """Run the srcip command line."""
    raise NotImplementedError("the srcip CLI is being written")
