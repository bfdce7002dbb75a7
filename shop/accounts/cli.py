"""`flask create-staff EMAIL --role admin`: the first admin, or any staff account, from a shell."""

from __future__ import annotations

import sys

import click

from shop.accounts import staff
from shop.accounts.models import STAFF_ROLES
from shop.errors import ShopError
from shop.extensions import db


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        # Scripts pipe it in: the first line, without its line ending.
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@click.command("create-staff")
@click.argument("email")
@click.option("--role", type=click.Choice(STAFF_ROLES), required=True)
@click.option("--name", default="", help="The person's name.")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of standard input.")
def create_staff_command(email: str, role: str, name: str, password_stdin: bool) -> None:
    """Create a staff or admin account (prompts for the password)."""
    password = _read_password(password_stdin)
    try:
        user = staff.create_staff(
            session=db.session, email=email, password=password, role=role, name=name
        )
        db.session.commit()
    except ShopError as error:
        db.session.rollback()
        messages = [f"{field}: {' '.join(text)}" for field, text in (error.errors or {}).items()]
        raise click.ClickException(" ".join([error.detail, *messages])) from None
    click.echo(f"created {user.role} account {user.email} (id {user.id})")
