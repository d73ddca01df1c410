#!/usr/bin/env bash
# pack.sh OUT RUN: packs RUN, a run.sh output folder, into the few files a
# device call brings back from $OUT (at most 8 files, of at most 16 MiB
# each; a file over the limit does not come back at all):
#   OUT/r.tgz        RUN (under its own name, r/... for OUT/r) without the
#                    Nsight Compute reports: every log, CSV and digest
#   OUT/ncu.tgz      the reports (.ncu-rep), smallest first, as many as fit
#   OUT/summary.txt  run.sh's report (made here with report.py when run.sh
#                    was cut off before it wrote one)
# Each archive is held to PACK_LIMIT bytes (default 15 MiB): the largest
# files are left out until it fits, and r.tgz's r/PACKING.txt names what
# was left out of either. RUN is removed afterwards when it lies under OUT,
# so that its files do not take the call's other places.
set -uo pipefail
out=${1:?usage: pack.sh OUT RUN}
run=${2:?usage: pack.sh OUT RUN}
here=$(cd "$(dirname "$0")" && pwd)
limit=${PACK_LIMIT:-15728640}
[ -d "$run" ] || { echo "pack.sh: no folder $run" >&2; exit 1; }
mkdir -p "$out"
out=$(cd "$out" && pwd)
run=$(cd "$run" && pwd)
case "$out/" in
"$run"/*)
	echo "pack.sh: OUT ($out) must not be RUN or lie inside it" >&2
	exit 1
	;;
esac
parent=$(dirname "$run")
name=$(basename "$run")
if [ ! -s "$run/summary.txt" ] && [ -f "$here/report.py" ]; then
	python3 "$here/report.py" "$run" >"$run/summary.txt" 2>&1
fi
[ -f "$run/summary.txt" ] && cp "$run/summary.txt" "$out/summary.txt"
list=$(mktemp)
trap 'rm -f "$list" "$list.n"' EXIT
note="$run/PACKING.txt"
: >"$note"

# pack ARCHIVE: tars the paths in $list (relative to $parent) into ARCHIVE,
# leaving out the largest until it is at most $limit bytes.
pack() {
	local archive=$1 size drop
	while :; do
		if [ ! -s "$list" ]; then
			rm -f "$archive"
			return
		fi
		tar czf "$archive" -C "$parent" -T "$list"
		size=$(stat -c %s "$archive")
		[ "$size" -le "$limit" ] && return
		# The list is sorted by size: the last is the largest.
		drop=$(tail -n 1 "$list")
		echo "left out of $(basename "$archive") (over $limit bytes with it): $drop ($(stat -c %s "$parent/$drop") bytes)" >>"$note"
		head -n -1 "$list" >"$list.n" && mv "$list.n" "$list"
	done
}

# The reports first, so that what they leave out is noted in r.tgz.
(cd "$parent" && find "$name" -type f -name '*.ncu-rep' -printf '%s %p\n' | sort -n | cut -d' ' -f2-) >"$list"
pack "$out/ncu.tgz"
(cd "$parent" && find "$name" -type f ! -name '*.ncu-rep' ! -name PACKING.txt -printf '%s %p\n' | sort -n | cut -d' ' -f2-) >"$list"
echo "$name/PACKING.txt" | cat - "$list" >"$list.n" && mv "$list.n" "$list"
pack "$out/r.tgz"
for a in r.tgz ncu.tgz; do
	[ -f "$out/$a" ] && echo "pack.sh: $out/$a $(stat -c %s "$out/$a") bytes"
done
[ -s "$note" ] && cat "$note"
case "$run/" in
"$out"/*) rm -rf "$run" ;;
esac
exit 0
