"""disk-full: the filesystem of the database's data directory fills up, as when a runaway log, a forgotten dump or
WAL kept for a dead replica takes the last byte. Writes fail once they need a new page (`could not extend file
"base/...": No space left on device`, psycopg's DiskFull); reads, and writes that fit in pages already there, go
on; should the WAL need a new segment, the server PANICs. Restarted, the server cannot even write its lock file.

A helper (the database's own image and user, no capability) mounts the database's volumes (`--volumes-from`), asks
the server for its data directory (`SHOW data_directory`; the configured PGDATA when the server does not answer),
and writes zeros to a file named after the fault's mark there until the kernel says the filesystem is full. While
applied it tops the file up every half second (`hold`): space the server frees (a checkpoint recycling WAL) is
taken again, as the writer that filled the disk would. Revert deletes that file and no other. The helper reaches
the files through the volume, not the server's processes: a database restarted, or down for want of space, is
reverted all the same.

It fills only a filesystem whose size is bounded and known: one larger than `max_size_mib`, or one that is not a
volume of the database (the helper's own layer: the engine host's disk, whatever its size), is refused before a
byte is written. The built-in database's data directory is a 192 MiB tmpfs volume for this (lab/compose/stack.yaml),
kept mounted while the database restarts: data and fill outlive a restart, as on a disk.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from lab.document import DatabaseService
from lab.faults.base import FaultFamily, FaultSpec, FaultTarget, HelperPlan
from lab.faults.postgres import PSQL

MIB = 1024 * 1024

SCRIPT = PSQL + r"""
fill_name() { echo "${MARK//[^A-Za-z0-9_-]/-}.fill"; }
data_dir() {  # the data directory, as the server says (or as configured, should it not answer)
  local path; path=$(sql <<<"show data_directory;" 2>/dev/null) || path=$PGDATA
  [ -d "$path" ] || { echo "cannot reach $path in the database's volumes"; return 2; }
  echo "$path"
}
space() {  # DIR: "SIZE FREE TYPE" of its filesystem, in bytes
  local block blocks free type
  read -r block blocks free type <<<"$(stat -f -c '%S %b %a %T' "$1")"
  echo "$((block * blocks)) $((block * free)) $type"
}
mib() { echo "$(( $1 / 1048576 )) MiB"; }
top_up() {  # FILE: zeros appended until the kernel says the filesystem is full
  local said; said=$(dd if=/dev/zero of="$1" bs=1M oflag=append conv=notrunc status=none 2>&1) && return 0
  [[ $said == *"No space left on device"* ]] || { echo "$said"; return 2; }
}
apply() {
  local dir size free type; dir=$(data_dir) || { echo "$dir"; return 2; }
  read -r size free type <<<"$(space "$dir")"
  if [[ $type == overlay* ]]; then
    echo "refused: $dir is not on a volume of the database but in a container's own layer ($type), on the" \
         "engine host's disk: give the database a bounded filesystem (a size-limited tmpfs volume, say) of at most" \
         "$(mib "$MAX_SIZE")"
    return 2
  fi
  if [ "$size" -gt "$MAX_SIZE" ]; then
    echo "refused: the filesystem of $dir holds $(mib "$size"), more than max_size_mib ($(mib "$MAX_SIZE"))"
    return 2
  fi
  echo "$dir" >/tmp/outage-lab-data-dir
  top_up "$dir/$(fill_name)" || return 2
  read -r size free type <<<"$(space "$dir")"
  echo "$dir full: $(mib "$(stat -c %s "$dir/$(fill_name)")") written to $(fill_name); $free bytes free of" \
       "$(mib "$size") ($type)"
}
hold() {
  local dir; dir=$(cat /tmp/outage-lab-data-dir 2>/dev/null) || return 0
  [ -e "$dir/$(fill_name)" ] && top_up "$dir/$(fill_name)" >/dev/null
}
revert() {
  local dir; dir=$(data_dir) || { echo "$dir"; return 2; }
  local fill="$dir/$(fill_name)"
  [ -e "$fill" ] || { echo "no $(fill_name) in $dir"; return 1; }
  local held; held=$(stat -c %s "$fill")
  rm -f -- "$fill" || return 2
  echo "$(fill_name) deleted: $(mib "$held") free again in $dir"
}
verify() {
  local dir size free type; dir=$(data_dir) || { echo "$dir"; return 2; }
  read -r size free type <<<"$(space "$dir")"
  local fill="$dir/$(fill_name)"
  if [ -e "$fill" ]; then
    echo "$(fill_name) holds $(mib "$(stat -c %s "$fill")") of $dir's $(mib "$size"); $free bytes free"
  else
    echo "no $(fill_name) in $dir; $(mib "$free") free of $(mib "$size")"; return 1
  fi
}
"""


class DiskFullSpec(FaultSpec):
    """The filesystem of the database's data directory filled to its last byte: writes fail, reads go on."""

    kind: Literal["disk-full"]
    target: DatabaseService = Field(description="The PostgreSQL service.")
    max_size_mib: int = Field(1024, strict=True, ge=1, le=65536,
                              description="The largest filesystem the fault fills; a larger one, or the container's "
                                          "own layer (the engine host's disk), is refused.")


def plan(spec: DiskFullSpec, target: FaultTarget, mark: str) -> list[HelperPlan]:
    return [HelperPlan(name=spec.target, script=SCRIPT, image=target.image_of(spec.target),
                       network=target.network_of(spec.target), volumes_of=spec.target,
                       env={**target.database_env(spec.target), "MAX_SIZE": str(spec.max_size_mib * MIB)})]


FAMILY = FaultFamily(
    spec=DiskFullSpec, plan=plan,
    mechanism="a helper mounting the database's volumes writes a file named after the fault into its data "
              "directory until the filesystem is full, and tops it up; revert deletes it",
    user_sees="writes that need a new page fail ('could not extend file ...: No space left on device', "
              "DiskFull); reads and /readyz go on",
    example={"kind": "disk-full", "target": "db"},
)
