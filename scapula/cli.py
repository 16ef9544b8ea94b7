"""The `scapula` command: a click group whose subcommands live beside their code."""
import click

@click.group()
def main():
    """Record, replay and query Linux process activity."""
