"""``likeness agency add|list|contact``, ``likeness user add`` and ``likeness token create|list|revoke``."""

from __future__ import annotations

import sys

import click

from monitor.cli.common import App, emit, json_option


@click.group()
def agency() -> None:
    """Agencies: the tenants of this install, each seeing only its own performers and findings."""


@agency.command("add")
@click.argument("name")
@json_option
@click.pass_obj
def agency_add(app: App, name: str, as_json: bool) -> None:
    """Add an agency."""
    from monitor.services.accounts import add_agency

    data = add_agency(app.context, name)
    emit(data, as_json, lambda: click.echo(f"agency {data['id']}: {data['name']}"))


@agency.command("list")
@json_option
@click.pass_obj
def agency_list(app: App, as_json: bool) -> None:
    """List the agencies."""
    from monitor.services.accounts import list_agencies

    rows = list_agencies(app.context)

    def human() -> None:
        for row in rows:
            click.echo(f"{row['id']:>5}  {row['name']}")
        if not rows:
            click.echo("no agencies yet: likeness agency add NAME (or add a performer: a first one is made)")

    emit(rows, as_json, human)


@agency.command("contact")
@click.argument("name")
@click.option("--address", default=None,
              help="The postal address its notices give (\\n between lines; \"\" clears it).")
@click.option("--phone", default=None, help="The telephone number its notices give.")
@click.option("--email", default=None, help="The e-mail address its notices give (default: the signer's).")
@json_option
@click.pass_obj
def agency_contact(app: App, name: str, address: str | None, phone: str | None, email: str | None,
                   as_json: bool) -> None:
    """Set how platforms reach an agency (what its takedown notices give)."""
    from monitor.services.accounts import set_agency_contact

    data = set_agency_contact(app.context, name, address.replace("\\n", "\n") if address else address, phone,
                              email)

    def human() -> None:
        click.echo(f"agency {data['id']}: {data['name']}")
        for what, value in data["contact"].items():
            click.echo(f"  {what}: {value or '-'}")

    emit(data, as_json, human)


@click.group()
def user() -> None:
    """People who use the dashboard and the API, each with a role in an agency."""


@user.command("add")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice(["owner", "admin", "agent", "legal", "artist"]),
              help="What they may do in the agency (docs/dashboard.md).")
@click.option("--performer", "performer_ids", type=int, multiple=True, metavar="ID",
              help="A performer they answer for: an artist's own (required), an agent's clients (repeatable).")
@click.option("--password-stdin", is_flag=True, help="Read their password (12 characters or more) from stdin.")
@json_option
@click.pass_obj
def user_add(app: App, email: str, role: str, performer_ids: tuple[int, ...], password_stdin: bool,
             as_json: bool) -> None:
    """Give EMAIL a role in the agency (a new user, or a new role for one already there)."""
    from monitor.services.accounts import add_user

    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else None
    data = add_user(app.context, email, role, performer_ids, password)
    emit(data, as_json, lambda: click.echo(f"user {data['id']}: {data['email']} is {data['role']} of "
                                           f"{data['agency']}"))


@click.group()
def token() -> None:
    """API tokens: created (shown once), listed, revoked."""


@token.command("create")
@click.option("--user", "email", required=True, help="Whose token: the user's e-mail address.")
@click.option("--name", required=True, help="What it is for (unique per user), e.g. 'ticketing'.")
@click.option("--scope", type=click.Choice(["read", "review", "admin"]), default="read", show_default=True,
              help="read: GET only; review: also reviews; admin: all the user's role allows.")
@click.option("--expires-days", type=int, default=90, show_default=True, help="Days until it stops working.")
@json_option
@click.pass_obj
def token_create(app: App, email: str, name: str, scope: str, expires_days: int, as_json: bool) -> None:
    """Create an API token; its secret is printed this once."""
    from monitor.services.accounts import create_token

    data = create_token(app.context, email, name, scope, expires_days)
    emit(data, as_json, lambda: click.echo(f"{data['token']}\n(token {data['id']} '{data['name']}', scope "
                                           f"{data['scope']}, expires {data['expires_at']}: shown this once)"))


@token.command("list")
@json_option
@click.pass_obj
def token_list(app: App, as_json: bool) -> None:
    """List the agency's tokens (never their secrets)."""
    from monitor.services.accounts import list_tokens

    rows = list_tokens(app.context)

    def human() -> None:
        for row in rows:
            state = "revoked" if row["revoked_at"] else f"expires {row['expires_at'] or 'never'}"
            click.echo(f"{row['id']:>5}  {row['prefix']}…  {row['name']:<20} {row['scope']:<7} {row['user']:<30} "
                       f"{state}, last used {row['last_used_at'] or 'never'}")
        if not rows:
            click.echo("no tokens yet: likeness token create --user EMAIL --name NAME")

    emit(rows, as_json, human)


@token.command("revoke")
@click.argument("token_id", type=int)
@json_option
@click.pass_obj
def token_revoke(app: App, token_id: int, as_json: bool) -> None:
    """Revoke a token: refused from now on."""
    from monitor.services.accounts import revoke_token

    data = revoke_token(app.context, token_id)
    emit(data, as_json, lambda: click.echo(f"token {data['id']} '{data['name']}' revoked"))
