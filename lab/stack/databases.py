"""The PostgreSQL services of a stack, and how an administrator reaches them: from this host (for the write check
and the lab's probe) and from the stack's network (for the database fault families' helpers). The built-in stack's
password is random per run; a team's credentials are read from the environment variables its scenario names.
Passwords go in environments, never on a command line or in a recording."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from lab.errors import InvalidInput, StackError
from lab.stack.ports import host_port
from lab.stack.spec import DatabaseAccess, StackSpec


class Databases:
    def __init__(self, spec: StackSpec, builtin_credentials: tuple[str, str], container: Callable[[str], Any]) -> None:
        """`builtin_credentials`: the built-in stack's administrator; `container`: the stack's (label-checked)."""
        self.spec = spec
        self._builtin_credentials = builtin_credentials
        self._container = container

    @property
    def services(self) -> tuple[str, ...]:
        return tuple(database.service for database in self.spec.databases)

    def access(self, service: str | None = None) -> DatabaseAccess:
        """The PostgreSQL service named (default: the first) and how an administrator logs in to it."""
        for database in self.spec.databases:
            if service in (None, database.service):
                return database
        raise StackError(f"{service or 'this stack'} is not a PostgreSQL service of the stack (stack.databases)")

    def conninfo(self, service: str | None = None, container: Any = None) -> str:
        """How to reach a database from this host; needs only its container to be running (`container`: as the engine
        has just described it, else asked now)."""
        database = self.access(service)
        container = container if container is not None else self._container(database.service)
        port = host_port(container, database.service, f"{database.port}/tcp")
        user = self.credentials(database)[0]
        return f"host=127.0.0.1 port={port} dbname={database.dbname} user={user} connect_timeout=5"

    def credentials(self, database: DatabaseAccess) -> tuple[str, str]:
        """(user, password) of an administrator: the built-in stack's own, or read from the environment variables
        the scenario names (never printed)."""
        if self.spec.builtin:
            return self._builtin_credentials
        if not database.user_env or not database.password_env:
            raise InvalidInput(f"stack.databases: {database.service}: name the environment variables of an "
                               "administrator's credentials (user_env, password_env)")
        missing = [name for name in (database.user_env, database.password_env) if name not in os.environ]
        if missing:
            raise InvalidInput(f"stack.databases: {database.service}: set {' and '.join(missing)} in the environment "
                               "(an administrator's credentials; never printed)")
        return os.environ[str(database.user_env)], os.environ[str(database.password_env)]

    def environment(self, service: str) -> dict[str, str]:
        """libpq's environment for an administrator of database `service`, seen from the stack's network."""
        database = self.access(service)
        user, password = self.credentials(database)
        return {"PGHOST": service, "PGPORT": str(database.port), "PGUSER": user, "PGPASSWORD": password,
                "PGDATABASE": database.dbname, "PGDATA": database.data_dir, "PGCONNECT_TIMEOUT": "3"}
