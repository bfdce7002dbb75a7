"""`flask create-staff`: the first admin from a shell, with a prompted or piped password."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from shop.accounts import passwords
from shop.accounts.models import User

PASSWORD = "violet kettle harbour"


@pytest.fixture
def cli(app, db_session):
    return app.test_cli_runner()


def find(db_session, email: str) -> User | None:
    return db_session.scalars(select(User).where(User.email == email)).first()


def test_create_admin_reading_the_password_from_stdin(cli, db_session):
    result = cli.invoke(args=["create-staff", "Boss@Example.com", "--role", "admin",
                              "--name", "The Boss", "--password-stdin"], input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert "created admin account boss@example.com" in result.output
    user = find(db_session, "boss@example.com")
    assert (user.role, user.name) == ("admin", "The Boss")
    assert passwords.verify_password(user.password_hash, PASSWORD)
    assert PASSWORD not in result.output


def test_create_staff_prompts_for_a_hidden_confirmed_password(cli, db_session):
    result = cli.invoke(args=["create-staff", "till@example.com", "--role", "staff"],
                        input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "Password" in result.output and "Repeat for confirmation" in result.output
    assert PASSWORD not in result.output  # hidden input is not echoed
    assert find(db_session, "till@example.com").role == "staff"


def test_mismatched_confirmation_creates_nothing(cli, db_session):
    result = cli.invoke(args=["create-staff", "oops@example.com", "--role", "staff"],
                        input=f"{PASSWORD}\nsomething else entirely\n")
    assert result.exit_code != 0
    assert find(db_session, "oops@example.com") is None


@pytest.mark.parametrize(
    ("args", "password", "message"),
    [
        (["weak@example.com", "--role", "admin"], "qwertyuiop", "too common"),
        (["short@example.com", "--role", "admin"], "short", "at least 10"),
    ],
)
def test_weak_passwords_are_refused(cli, db_session, args, password, message):
    result = cli.invoke(args=["create-staff", *args, "--password-stdin"], input=password + "\n")
    assert result.exit_code == 1
    assert message in result.output
    assert find(db_session, args[0]) is None


def test_role_must_be_staff_or_admin(cli):
    result = cli.invoke(args=["create-staff", "c@example.com", "--role", "customer",
                              "--password-stdin"], input=PASSWORD + "\n")
    assert result.exit_code == 2 and "customer" in result.output


def test_an_existing_email_is_refused(cli, db_session):
    args = ["create-staff", "twice@example.com", "--role", "staff", "--password-stdin"]
    assert cli.invoke(args=args, input=PASSWORD + "\n").exit_code == 0
    again = cli.invoke(args=args, input=PASSWORD + "\n")
    assert again.exit_code == 1 and "already exists" in again.output
