"""The base image (a setting, or bootstrapped from Debian's packages) and the lab's own images.

Images are tagged with a hash of their inputs (base image id + build context), so a build happens only
when something that goes into it changed.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import docker
from docker.errors import APIError, BuildError, ImageNotFound

from lab.errors import ImageBuildError
from lab.settings import BOOTSTRAPPED_BASE_IMAGE, DEFAULT_BASE_IMAGE, PACKAGE_DIR, Settings
from lab.stack.labels import MANAGED

DOCKERFILES = PACKAGE_DIR / "dockerfiles"
SHARED_MODULES = {"reaper": ("__init__.py", "errors.py", "stack/__init__.py", "stack/labels.py", "stack/removal.py")}
"""Modules of the lab an image carries, copied into its build context under lab/: the reaper removes a run with the
lab's own label names and removal, not a copy of them kept by hand."""
IMAGE_NAMES = ("db", "app", "lb", "tools", "reaper", "observe")
IMAGE_PREFIX = "outage-lab/"
"""Every image the lab builds is tagged outage-lab/NAME:DIGEST."""

Progress = Callable[[str], None]


@dataclass(frozen=True)
class LabImages:
    base: str
    db: str
    app: str
    lb: str
    tools: str
    reaper: str
    observe: str
    """Prometheus, Alertmanager and the PostgreSQL exporter: the stack's optional observability part."""

    def compose_env(self) -> dict[str, str]:
        return {"LAB_DB_IMAGE": self.db, "LAB_APP_IMAGE": self.app, "LAB_LB_IMAGE": self.lb,
                "LAB_OBSERVE_IMAGE": self.observe}


UNBUILT = LabImages(base="unused", db="unused", app="unused", lb="unused", tools="unused", reaper="unused",
                    observe="unused")
"""What a stack's Compose files are read with before it has images (a handle that only looks, or removes)."""


def context_digest(context: Path, base_image_id: str) -> str:
    """Hash of everything a build reads: the base image id and every file of the context, but Python's byte-code
    caches (Python writes them beside a script it imported, and a new one must not mean a rebuild of minutes)."""
    digest = hashlib.sha256(base_image_id.encode())
    for path in sorted(p for p in context.rglob("*") if p.is_file() and not byte_code(p.relative_to(context))):
        digest.update(path.relative_to(context).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


@contextmanager
def build_context(name: str) -> Iterator[Path]:
    """The build context of image `name`: its directory under dockerfiles/, with the lab's modules it carries."""
    shared = SHARED_MODULES.get(name, ())
    if not shared:
        yield DOCKERFILES / name
        return
    with tempfile.TemporaryDirectory(prefix=f"outage-lab-{name}-") as directory:
        context = Path(directory) / name
        shutil.copytree(DOCKERFILES / name, context, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        for module in shared:
            (context / "lab" / module).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(PACKAGE_DIR / module, context / "lab" / module)
        yield context


def image_tag(name: str, base_image_id: str) -> str:
    """outage-lab/NAME:DIGEST, the digest of everything its build reads."""
    with build_context(name) as context:
        return f"{IMAGE_PREFIX}{name}:{context_digest(context, base_image_id)}"


def byte_code(path: Path) -> bool:
    return "__pycache__" in path.parts or path.suffix == ".pyc"


def image_exists(client: docker.DockerClient, tag: str) -> bool:
    try:
        client.images.get(tag)
    except ImageNotFound:
        return False
    return True


def resolve_base_image(client: docker.DockerClient, settings: Settings, progress: Progress) -> str:
    """The configured base if present (or pullable when online), else a debootstrapped one."""
    if image_exists(client, settings.base_image):
        return settings.base_image
    if settings.base_image == DEFAULT_BASE_IMAGE and image_exists(client, BOOTSTRAPPED_BASE_IMAGE):
        return BOOTSTRAPPED_BASE_IMAGE  # bootstrapped before: no pull attempt on every run (one is made when none is)
    if not settings.offline:
        progress(f"pulling base image {settings.base_image}")
        try:
            client.images.pull(settings.base_image)
            return settings.base_image
        except APIError as exc:
            progress(f"cannot pull {settings.base_image} ({exc.explanation or exc}); bootstrapping one instead")
    if not image_exists(client, BOOTSTRAPPED_BASE_IMAGE):
        bootstrap_base_image(client, BOOTSTRAPPED_BASE_IMAGE, progress)
    return BOOTSTRAPPED_BASE_IMAGE


def bootstrap_base_image(client: docker.DockerClient, tag: str, progress: Progress) -> None:
    """debootstrap a minimal Debian bookworm and import it as an image (no registry needed)."""
    if shutil.which("debootstrap") is None:
        raise ImageBuildError("no base image and no debootstrap to make one: `apt-get install -y debootstrap`")
    with tempfile.TemporaryDirectory(prefix="outage-lab-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        progress("bootstrapping Debian bookworm (debootstrap --variant=minbase, about 30-60 s)")
        _run(["debootstrap", "--variant=minbase", "bookworm", str(rootfs)], "debootstrap")
        for leftover in [*rootfs.glob("var/cache/apt/archives/*.deb"), *rootfs.glob("var/lib/apt/lists/*_*")]:
            leftover.unlink()
        repository, _, version = tag.partition(":")
        with subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE) as tar:
            try:
                client.api.import_image_from_stream(tar.stdout, repository=repository, tag=version or "latest")
            except APIError as exc:
                raise ImageBuildError(f"docker import of the bootstrapped rootfs failed: {exc.explanation}") from exc
        if tar.returncode:
            raise ImageBuildError(f"tar of the bootstrapped rootfs failed with exit code {tar.returncode}")


def build_images(client: docker.DockerClient, settings: Settings, progress: Progress) -> LabImages:
    base = resolve_base_image(client, settings, progress)
    base_id = client.images.get(base).id
    tags: dict[str, str] = {}
    for name in IMAGE_NAMES:
        tag = tags[name] = image_tag(name, base_id)
        if image_exists(client, tag):
            continue
        progress(f"building {tag} on {base}")
        try:
            with build_context(name) as context:
                client.images.build(path=str(context), tag=tag, buildargs={"BASE_IMAGE": base},
                                    labels={MANAGED: "true"}, rm=True, forcerm=True, pull=False)
        except BuildError as exc:
            tail = " | ".join(str(line.get("stream", line.get("error", ""))).strip() for line in exc.build_log)[-400:]
            raise ImageBuildError(f"building the {name} image failed: {exc.msg} ({tail})") from exc
        except APIError as exc:
            raise ImageBuildError(f"building the {name} image failed: {exc.explanation}") from exc
    return LabImages(base=base, **tags)


def built_images(client: docker.DockerClient, settings: Settings) -> LabImages | None:
    """The images for the current inputs if all are already built, without building anything."""
    current = current_images(client, settings)
    if current is None or not all(image_exists(client, getattr(current, name)) for name in IMAGE_NAMES):
        return None
    return current


def current_images(client: docker.DockerClient, settings: Settings) -> LabImages | None:
    """The tags the current inputs call for (built or not); None while there is no base image to hash."""
    try:
        base = settings.base_image if image_exists(client, settings.base_image) else BOOTSTRAPPED_BASE_IMAGE
        base_id = client.images.get(base).id
    except ImageNotFound:
        return None
    return LabImages(base=base, **{name: image_tag(name, base_id) for name in IMAGE_NAMES})


def prune_images(client: docker.DockerClient, settings: Settings) -> tuple[list[str], list[str]]:
    """Remove the lab's own images (found by its label) that the current inputs no longer use: each change to an
    image's inputs leaves the previous build behind. Returns (removed, kept because a container uses them)."""
    current = current_images(client, settings)
    keep = {getattr(current, name) for name in IMAGE_NAMES} if current else set()
    removed, in_use = [], []
    for image in client.images.list(filters={"label": f"{MANAGED}=true"}):
        for tag in (tag for tag in image.tags if tag.startswith(IMAGE_PREFIX) and tag not in keep):
            try:
                client.images.remove(tag)  # without force: an image a container uses stays
            except APIError as exc:
                if exc.status_code != 409:
                    raise
                in_use.append(tag)
            else:
                removed.append(tag)
    return sorted(removed), sorted(in_use)


def _run(argv: list[str], what: str) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise ImageBuildError(f"{what} failed (exit {done.returncode}): {tail[0]}")
