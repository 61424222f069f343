"""Bash functions for iptables rules that carry the fault's mark, shared by the packet-filter families. A rule is
added with the mark in its comment, and only rules carrying the mark are ever listed or deleted (Pumba learnt
in its PR #349 what deleting someone else's rule costs). Rules are read back with `iptables -S` and deleted by
the same arguments, split on spaces: the lab's rules never hold a quoted space, so nothing is evaluated."""

from __future__ import annotations

MARKED_RULES = r"""
IPT=${IPT:-iptables}
marked_rules() {  # TABLE: the rules carrying $MARK, in `iptables -S` form
  "$IPT" -w -t "$1" -S | grep -F -e "--comment \"$MARK\"" -e "--comment $MARK " || true
}
add_marked() {  # TABLE VERB CHAIN ARGS...: add a rule carrying $MARK (VERB: -A or -I)
  local table=$1 verb=$2 chain=$3; shift 3
  "$IPT" -w -t "$table" "$verb" "$chain" "$@" -m comment --comment "$MARK"
}
remove_marked() {  # TABLE...: delete every rule carrying $MARK; exit 1 if there was none
  local table rule found=1
  local -a args
  for table in "$@"; do
    while IFS= read -r rule; do
      [ -n "$rule" ] || continue
      read -ra args <<<"${rule//\"/}"  # -S quotes the comment; the lab's rules hold no other quote
      args[0]=-D
      "$IPT" -w -t "$table" "${args[@]}" && found=0
    done < <(marked_rules "$table")
  done
  return $found
}
show_marked() {  # TABLE...: print the rules carrying $MARK; exit 0 if there is one, 1 if none
  local table out=""
  for table in "$@"; do out+=$(marked_rules "$table"); done
  if [ -n "$out" ]; then printf '%s\n' "$out"; return 0; fi
  echo "no rule carrying $MARK"
  return 1
}
probe_tcp() {  # HOST PORT: "open", "refused" or "silent" (no answer within half a second), one word
  if timeout 0.5 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; then echo open
  elif [ $? = 124 ]; then echo silent; else echo refused; fi
}
"""
