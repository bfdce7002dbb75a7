"""Command-line tools: `flask seed`, and the commands each domain adds (`flask keys ...`)."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask

from shop.db import unit_of_work
from shop.extensions import db
from shop.worker import worker_command

SEED_DIR = Path(__file__).resolve().parent.parent / "seed"


@click.command("seed")
@click.option("--scale", type=click.IntRange(min=0), default=0,
              help="Also generate this many synthetic products (for benchmarks).")
@click.option("--seed-dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=SEED_DIR, show_default=True)
def seed_command(scale: int, seed_dir: Path) -> None:
    """Load the seed catalogue; rows that already exist are left as they are."""
    from shop.catalogue import seed

    with unit_of_work(db.session):
        created = seed.load_catalogue(session=db.session, seed_dir=seed_dir)
    click.echo(f"seeded: {created}")
    if scale:
        made = seed.generate_synthetic(session=db.session, count=scale)
        click.echo(f"synthetic products created: {made}")


def register_commands(app: Flask) -> None:
    from shop.accounts import cli as accounts_cli
    from shop.keys.cli import keys_group

    app.cli.add_command(seed_command)
    app.cli.add_command(keys_group)
    app.cli.add_command(accounts_cli.create_staff_command)
    app.cli.add_command(worker_command)
