#!/usr/bin/env bash
# slow-tiers.sh: printed at the end of `make test`: one line per slow tier
# (a make target listed in .ci/tiers) the fast tier did not run, with the
# command that runs it and the comment line above it in .ci/tiers.
set -euo pipefail
tiers=${1:-.ci/tiers}
[ -f "$tiers" ] || exit 0
desc=""
while IFS= read -r line || [ -n "$line" ]; do
  line=${line%$'\r'}
  case "$line" in
    "") desc="" ;;
    \#*) desc=${line#\#}; desc=${desc# } ;;
    *)
      target=${line%%#*}
      target=${target//[[:space:]]/}
      [ -n "$target" ] || continue
      printf 'slow tier not run: %-22s %s\n' "make $target" "$desc"
      desc=""
      ;;
  esac
done <"$tiers"
