"""`moviemanager user …`: the operator's door to user accounts (the same services as /auth)."""

import argparse
import getpass
import sys

from ..config import Settings

TENANT_NAME_RULE = "a-z, 0-9, _ and -, at most 64"


def add_user_commands(commands: argparse._SubParsersAction) -> None:
    user = commands.add_parser(
        "user",
        help="User accounts: create, list, disable, enable, grant, revoke",
        description="People who sign in with POST /auth/login. An admin user may write every tenant and the "
        "global data; any other user the tenants granted to it.",
    )
    user_commands = user.add_subparsers(dest="user_command", required=True)
    create = user_commands.add_parser(
        "create", help="Create a user; the password is asked twice, or read from standard input"
    )
    create.add_argument("name", help="Username: 3 to 64 letters, digits, '_', '.' or '-'")
    create.add_argument("--email", required=True)
    rights = create.add_mutually_exclusive_group(required=True)
    rights.add_argument("--admin", action="store_true", help="May write every tenant and the global data")
    rights.add_argument("--tenant", action="append", help="A tenant the user may write (repeat for more)")
    create.add_argument(
        "--password-stdin", action="store_true", help="Read the password from the first line of standard input"
    )
    user_commands.add_parser("list", help="Users, their e-mail, state and rights (never passwords)")
    for name, text in [
        ("disable", "Disable a user: its login tokens stop working at once"),
        ("enable", "Enable a disabled user again"),
    ]:
        user_commands.add_parser(name, help=text).add_argument("name")
    for name, text in [("grant", "Let a user write a tenant"), ("revoke", "Stop a user writing a tenant")]:
        change = user_commands.add_parser(name, help=text)
        change.add_argument("name")
        change.add_argument("--tenant", required=True)


async def run_user_command(settings: Settings, args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from ..db import create_sessionmaker, open_database
    from ..errors import DomainError
    from ..tenancy import is_valid_tenant_name
    from ..uow import UnitOfWork
    from . import service
    from .schemas import UserCreate

    named = getattr(args, "tenant", None)  # create: a list (or None with --admin); grant, revoke: one
    for tenant in named if isinstance(named, list) else [named] if named else []:
        if not is_valid_tenant_name(tenant):
            print(f"error: {tenant!r} is not a valid tenant name ({TENANT_NAME_RULE})", file=sys.stderr)
            return 2
    new = None
    if args.user_command == "create":
        password = _read_password(args.password_stdin)
        if password is None:
            return 2
        try:
            new = UserCreate(username=args.name, email=args.email, password=password)
        except ValidationError as exc:
            for error in exc.errors():  # never the input: it may be the password
                print(f"error: {error['loc'][0]}: {error['msg']}", file=sys.stderr)
            return 2

    async with open_database(settings) as engine:
        uow = UnitOfWork(create_sessionmaker(engine, settings))
        try:
            if new is not None:
                user = await service.create_user(uow, new, is_admin=args.admin, tenants=args.tenant or ())
                print(f"created user {user.username!r} ({_rights(user.is_admin, user.tenants)})", file=sys.stderr)
            elif args.user_command == "list":
                for user in await service.list_users(uow):
                    state = "active" if user.is_active else "disabled"
                    rights = _rights(user.is_admin, user.tenants)
                    print(f"{user.username}\t{user.email}\t{state}\t{rights}\t{user.created_at:%Y-%m-%d %H:%M:%S%z}")
            elif args.user_command in ("disable", "enable"):
                await service.set_active(uow, args.name, args.user_command == "enable")
                print(f"{args.user_command}d user {args.name!r}", file=sys.stderr)
            elif args.user_command == "grant":
                granted = await service.grant(uow, args.name, args.tenant)
                already = "" if granted else " (already could)"
                print(f"user {args.name!r} may write tenant {args.tenant!r}{already}", file=sys.stderr)
            else:
                await service.revoke(uow, args.name, args.tenant)
                print(f"user {args.name!r} may no longer write tenant {args.tenant!r}", file=sys.stderr)
        except DomainError as exc:
            print(f"error: {exc.detail}", file=sys.stderr)
            return 1
    return 0


def _read_password(from_stdin: bool) -> str | None:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        try:
            password = getpass.getpass("Password: ")
            if getpass.getpass("Password (again): ") != password:
                print("error: the passwords differ", file=sys.stderr)
                return None
        except (EOFError, KeyboardInterrupt):
            print("\nerror: no password given", file=sys.stderr)
            return None
    if not password:
        print("error: the password is empty", file=sys.stderr)
        return None
    return password


def _rights(is_admin: bool, tenants: list[str]) -> str:
    if is_admin:
        return "admin"
    return "tenants " + ", ".join(tenants) if tenants else "no tenant"
