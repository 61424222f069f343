"""Releases: the versions of a service a scenario may deploy (the `release` fault family puts a bad one in place; a
`deploy` step rolls one out, a rollback included). A release is what a deploy tool changes: the image, the
environment, the command. It is deployed as Compose would deploy it: an override file for the service in the
run's scratch directory (lab.stack.override), and the service's containers recreated from it
(lab.stack.deploy).

`current` is every stack's own: the Compose file as it is, what the services run when the stack starts. The
built-in app's other releases fail the way real releases do, through their configuration only (the app's code
is the same in every one): a table whose migration never ran, a renamed environment variable, a pool of one, a
database host that does not resolve. A team's stack names its own under `stack.releases`."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import Field

from lab.document import DocumentModel

CURRENT = "current"
"""The stack's own definition of every service: deploying it removes what an earlier deploy changed."""


class Release(DocumentModel):
    description: str = Field("", description="What changes in it, in the team's words (shown on the timeline).")
    image: str | None = Field(None, min_length=1, description="The image it runs (a local tag: nothing is pulled); "
                                                               "default: the service's own.")
    environment: Mapping[str, str | None] = Field(
        default_factory=dict, description="Variables it sets (null: the variable is no longer set).")
    command: tuple[str, ...] | None = Field(None, min_length=1, description="Its command (argv), if it changes.")


BUILTIN_RELEASES: Mapping[str, Release] = {
    "unmigrated-table": Release(
        description="reads and writes orders_v2, created by a migration job that was never run: up and healthy, "
                    "every order fails (relation \"orders_v2\" does not exist)",
        environment={"ORDERS_TABLE": "orders_v2", "DB_MIGRATE_AT_START": "0"}),
    "renamed-env": Release(
        description="its configuration names the database host DATABASE_HOST; the app reads DB_HOST: it fails at "
                    "start (KeyError: 'DB_HOST') and crash-loops",
        environment={"DB_HOST": None, "DATABASE_HOST": "db"}),
    "pool-of-one": Release(
        description="a pool of one database connection, waited for at most 0.5 s: fine at a trickle, failing "
                    "under load (couldn't get a connection)",
        environment={"DB_POOL_MIN": "1", "DB_POOL_MAX": "1", "DB_POOL_TIMEOUT": "0.5"}),
    "wrong-db-host": Release(
        description="its database host is a name that does not resolve (orders-db): it waits for the database, "
                    "never serves, and exits after 30 s to be started again",
        environment={"DB_HOST": "orders-db", "DB_STARTUP_WAIT_S": "30"}),
}
