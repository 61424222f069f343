"""Settings, labels, image input hashing and the stack's small helpers: no Docker needed."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from lab.errors import InvalidInput, PortInUse, SafetyError
from lab.settings import DEFAULT_BASE_IMAGE, Settings
from lab.stack import labels
from lab.stack.builtin import builtin_image
from lab.stack.compose import compose_error_line
from lab.stack.images import context_digest
from lab.stack.labels import new_run_id, project_name
from lab.stack.override import built_image_tag
from lab.stack.ports import ensure_port_free


def test_settings_default_to_a_registry_base_image_and_online() -> None:
    """Without environment, users with a registry get debian:bookworm-slim and may pull it."""
    settings = Settings.from_env({})
    assert settings.base_image == DEFAULT_BASE_IMAGE == "debian:bookworm-slim"
    assert settings.offline is False


@pytest.mark.parametrize(("value", "offline"), [("1", True), ("yes", True), ("0", False), ("", False), ("no", False)])
def test_lab_offline_is_read_as_a_flag(value: str, offline: bool) -> None:
    """LAB_OFFLINE=1 (what CI sets) means never pull."""
    assert Settings.from_env({"LAB_OFFLINE": value}).offline is offline


def test_base_image_is_a_setting() -> None:
    """LAB_BASE_IMAGE picks the base image the lab's images build on."""
    assert Settings.from_env({"LAB_BASE_IMAGE": "local/debian:12"}).base_image == "local/debian:12"


def test_engine_wait_is_a_setting_in_seconds() -> None:
    """LAB_ENGINE_WAIT_S: how long a run waits for a lost Docker engine before giving up on cleanup."""
    assert Settings.from_env({}).engine_wait_s == 60.0
    assert Settings.from_env({"LAB_ENGINE_WAIT_S": "2.5"}).engine_wait_s == 2.5


@pytest.mark.parametrize("value", ["soon", "-1", "inf", "nan"])
def test_a_bad_engine_wait_is_one_clear_error(value: str) -> None:
    """LAB_ENGINE_WAIT_S that is not a finite number of seconds is one clear invalid-input error."""
    with pytest.raises(InvalidInput, match="LAB_ENGINE_WAIT_S must be a number of seconds"):
        Settings.from_env({"LAB_ENGINE_WAIT_S": value})


def test_ensure_owned_accepts_this_runs_resources_only() -> None:
    """A container of another run, or an unlabelled one, is refused."""
    mine = labels.run_labels("run-a", labels.ROLE_STACK)
    labels.ensure_owned(mine, "run-a", "container x")
    with pytest.raises(SafetyError, match=r"does not carry the label outage-lab\.run=run-b"):
        labels.ensure_owned(mine, "run-b", "container x")
    with pytest.raises(SafetyError):
        labels.ensure_owned({}, "run-a", "container y")
    with pytest.raises(SafetyError):
        labels.ensure_owned({labels.RUN: "run-a"}, "run-a", "container z")  # missing the managed label


def test_context_digest_changes_with_any_input(tmp_path: Path) -> None:
    """Images are rebuilt only when their inputs change: a file edit or a new base image changes the tag."""
    (tmp_path / "Dockerfile").write_text("FROM x\n")
    first = context_digest(tmp_path, "sha256:base1")
    assert context_digest(tmp_path, "sha256:base1") == first
    assert context_digest(tmp_path, "sha256:base2") != first
    (tmp_path / "Dockerfile").write_text("FROM y\n")
    assert context_digest(tmp_path, "sha256:base1") != first


def test_context_digest_ignores_python_byte_code(tmp_path: Path) -> None:
    """Importing a script of a build context (a test, a linter) leaves __pycache__ beside it: no rebuild for that."""
    (tmp_path / "Dockerfile").write_text("FROM x\nCOPY app.py /srv/\n")
    (tmp_path / "app.py").write_text("print('hi')\n")
    first = context_digest(tmp_path, "sha256:base1")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"\x00cache")
    (tmp_path / "old.pyc").write_bytes(b"\x00cache")
    assert context_digest(tmp_path, "sha256:base1") == first
    (tmp_path / "app.py").write_text("print('hello')\n")
    assert context_digest(tmp_path, "sha256:base1") != first


def test_run_ids_are_valid_compose_project_names_and_unique() -> None:
    """Compose wants lowercase letters, digits, dashes; 50 ids made in the same second all differ."""
    ids = {new_run_id() for _ in range(50)}
    assert len(ids) == 50
    for run_id in ids:
        assert re.fullmatch(r"[a-z0-9][a-z0-9_-]*", project_name(run_id))


def test_compose_error_line_picks_the_error_not_the_progress() -> None:
    """Compose prints progress then the error; the user sees the error line."""
    stderr = " Container x  Creating\n Container x  Created\nError response from daemon: port is already allocated\n"
    assert compose_error_line(stderr) == "Error response from daemon: port is already allocated"
    assert compose_error_line("") == "no output"


def test_ensure_port_free_names_the_taken_port() -> None:
    """A port someone listens on is reported as in use, with what to do."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(PortInUse, match=f"port {port} on 127.0.0.1 is in use"):
            ensure_port_free(port)


@pytest.mark.parametrize(("image", "builtin"), [
    ("outage-lab/app:09b24906e0bd", True), ("outage-lab/db:382b43830722", True), ("outage-lab/lb:2b34b5212a3f", True),
    ("outage-lab/tools:26db63054681", False), ("postgres:16", False),
    (built_image_tag(Path("/srv/notes/compose.yaml"), "db"), False),
    (built_image_tag(Path("/srv/x/compose.yaml"), "lb"), False),
])
def test_only_the_builtin_stacks_images_get_the_labs_own_readiness_probe(image: str, builtin: bool) -> None:
    """A handle on a running stack is not told which stack it is: the image says. A team's services the lab builds
    are tagged outage-lab/own-... and are healthy when Docker says so, whatever they are named."""
    assert builtin_image(image) is builtin
