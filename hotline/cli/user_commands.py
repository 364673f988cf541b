"""Who acts: ``login``, ``logout``, ``whoami``, ``passwd``, and the users of the installation."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from hotline.cli.output import emit_json, table
from hotline.cli.shared import JsonOpt, actor_of, handles_errors, open_installation

commands = typer.Typer()
user_app = typer.Typer(help="People who log in to the review app.", no_args_is_help=True)
commands.add_typer(user_app, name="user")


@commands.command()
@handles_errors
def login(
    name: str,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Log in as a user of this installation: later commands act as them (token file, mode 0600)."""
    from hotline.services.identity import login as log_in

    inst = open_installation()
    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else str(typer.prompt("Password", hide_input=True))
    path = log_in(inst, name, password)
    if as_json:
        emit_json({"user": name, "token_file": str(path)})
    else:
        typer.echo(f"logged in as {name} (token in {path})")


@commands.command()
@handles_errors
def logout(as_json: JsonOpt = False) -> None:
    """End this command line's login (the token stops working and its file is removed)."""
    from hotline.services.identity import logout as log_out

    name = log_out(open_installation())
    if as_json:
        emit_json({"logged_out": name})
    else:
        typer.echo(f"logged out {name}" if name else "not logged in")


@commands.command()
@handles_errors
def whoami(as_json: JsonOpt = False) -> None:
    """Who the command line acts as: the logged-in user, or the operator account."""
    from hotline.services.identity import current_user

    user = current_user(open_installation())
    info = {"name": user.name, "role": user.role} if user else {"name": "system", "role": "operator account"}
    if as_json:
        emit_json(info)
    else:
        typer.echo(f"{info['name']} ({info['role']})")


@commands.command()
@handles_errors
def passwd(
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the current password, then the "
                                                 "new one, a line each, from stdin.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Change your own password (the logged-in user's); every login of yours ends: log in again."""
    from hotline.services.identity import change_password

    inst = open_installation()
    if password_stdin:
        current, new = sys.stdin.readline().rstrip("\r\n"), sys.stdin.readline().rstrip("\r\n")
    else:
        current = str(typer.prompt("Current password", hide_input=True))
        new = str(typer.prompt("New password", hide_input=True, confirmation_prompt=True))
    name = change_password(inst, current, new)
    if as_json:
        emit_json({"user": name, "password": "changed"})
    else:
        typer.echo(f"password of {name} changed; log in again (hotline login {name})")


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@user_app.command("add")
@handles_errors
def user_add(
    name: str,
    role: Annotated[str, typer.Option(help="analyst, senior, operator, statistician or admin.")] = "analyst",
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Add a user (the password is stored as an argon2id hash). An admin's job: log in as one;
    the first admin is added by the operator account (no login) while there is none."""
    from hotline.passwords import hash_password

    inst = open_installation()
    user = inst.catalog.add_user(name, role, hash_password(_password(password_stdin)), actor=actor_of(inst))
    if as_json:
        emit_json(user)
    else:
        typer.echo(f"user {user.name} added ({user.role})")


@user_app.command("set")
@handles_errors
def user_set(
    name: str,
    role: Annotated[str | None, typer.Option(help="A new role.")] = None,
    active: Annotated[bool | None, typer.Option("--active/--inactive", help="Let them log in, or not.")] = None,
    reveal_budget: Annotated[int | None, typer.Option(help="Reveals a day.")] = None,
    blur: Annotated[int | None, typer.Option(help="Thumbnail blur strength 0..64.")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="A new password, from stdin.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Change a user's role, state, budget, blur or password (an admin's job; ends their sessions and
    command-line logins when needed)."""
    from hotline.passwords import hash_password

    inst = open_installation()
    user = inst.catalog.update_user(name, actor=actor_of(inst), role=role, active=active, blur=blur,
                                    reveal_budget=reveal_budget,
                                    password_hash=hash_password(_password(True)) if password_stdin else None)
    if as_json:
        emit_json(user)
    else:
        typer.echo(f"user {user.name}: {user.role}, {'active' if user.active else 'inactive'}")


@user_app.command("list")
@handles_errors
def user_list(as_json: JsonOpt = False) -> None:
    """Users of the review app."""
    users = open_installation().catalog.users()
    if as_json:
        emit_json(users)
    else:
        table("users", ["name", "role", "active", "blur", "reveal budget", "since"],
              [(u.name, u.role, u.active, u.blur, u.reveal_budget, u.created_at) for u in users])


@user_app.command("client")
@handles_errors
def user_client(
    name: str,
    days: Annotated[float | None, typer.Option(help="How long the token lasts (default intake_token_days).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """A token for an intake client NAME (a public report form, a partner's system) to file reports
    over HTTP (POST /api/reports); NAME is added with the intake role when new. An admin's job; the
    token is shown once."""
    import secrets
    from datetime import timedelta

    from hotline.services.identity import token_hash

    inst = open_installation()
    token = secrets.token_urlsafe(32)
    lifetime = timedelta(days=days if days is not None else inst.settings.intake_token_days)
    expires = inst.catalog.issue_intake_token(name, token_hash(token), lifetime, actor=actor_of(inst))
    if as_json:
        emit_json({"client": name, "token": token, "expires_at": expires})
    else:
        typer.echo(f"intake client {name}: token (shown once, valid until {expires:%Y-%m-%d}):\n{token}")
