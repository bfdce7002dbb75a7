"""`flask keys status` and `flask keys rotate`: what VOUCHER_KEY_FALLBACKS is still needed for."""

from __future__ import annotations

import logging

import click
from flask import current_app
from flask.cli import with_appcontext

from shop.extensions import db
from shop.keys import services
from shop.keys.services import KeyStatus, Tally

log = logging.getLogger(__name__)
keys_group = click.Group("keys", help="VOUCHER_KEY rotation: re-key, and what still needs a "
                                      "fallback key.")


def _tally_line(name: str, tally: Tally) -> str:
    rekeyed = f" ({tally.rekeyed} re-keyed now)" if tally.rekeyed else ""
    return (f"{name}: {tally.current} under VOUCHER_KEY{rekeyed}, {tally.fallback} under a "
            f"fallback, {tally.unreadable} under no listed key")


def _report(result: KeyStatus, show_accounts: bool) -> None:
    click.echo(_tally_line("voucher codes", result.voucher_codes))
    click.echo(_tally_line("sealed emails not sent yet", result.sealed_emails))
    click.echo(_tally_line("two-factor secrets", result.two_factor_secrets))
    codes = result.recovery_codes
    click.echo(f"accounts with unused recovery codes (cannot be re-keyed): {codes.current} under "
               f"VOUCHER_KEY, {codes.fallback} under a fallback, {codes.unknown} with no key id "
               f"recorded, {codes.unlisted} under no listed key")
    if show_accounts and codes.accounts_on_fallbacks:
        click.echo("  they need a fallback until they make new codes: "
                   + ", ".join(codes.accounts_on_fallbacks))
    if not current_app.config["VOUCHER_KEY_FALLBACKS"]:
        click.echo("VOUCHER_KEY_FALLBACKS is empty.")
    elif result.fallbacks_needed:
        click.echo("VOUCHER_KEY_FALLBACKS is still needed.")
    else:
        click.echo("VOUCHER_KEY_FALLBACKS can be removed: nothing listed above needs it.")


@keys_group.command("status")
@click.option("--show-accounts", is_flag=True,
              help="List the accounts whose recovery codes need a fallback key.")
@click.option("--check", is_flag=True,
              help="Exit with status 1 while anything still needs a fallback key.")
@with_appcontext
def status_command(show_accounts: bool, check: bool) -> None:
    """Count what is under VOUCHER_KEY, under a fallback, and under no listed key."""
    result = services.status(session=db.session)
    _report(result, show_accounts)
    if check and result.fallbacks_needed:
        raise SystemExit(1)


@keys_group.command("rotate")
@click.option("--show-accounts", is_flag=True,
              help="List the accounts whose recovery codes need a fallback key.")
@with_appcontext
def rotate_command(show_accounts: bool) -> None:
    """Re-key under VOUCHER_KEY what a fallback key opens (safe beside a running shop)."""
    try:
        result = services.status(session=db.session, rotate=True)
    except BaseException:
        db.session.rollback()
        raise
    log.info("voucher key rotation run", extra={
        "voucher_codes_rekeyed": result.voucher_codes.rekeyed,
        "sealed_emails_rekeyed": result.sealed_emails.rekeyed,
        "two_factor_secrets_rekeyed": result.two_factor_secrets.rekeyed,
        "fallbacks_needed": result.fallbacks_needed})
    _report(result, show_accounts)
