"""exhibit: command line (placeholder, filled in below)."""
import click
@click.group()
def main() -> None:
    """Exhibit Engine."""
