# Sourced by tests/integration/docs.sh in the page's shell: the block
# marker and curl with its HTTP status checked. $1: the page's script;
# fd 3: where each block's line is written when it starts.
__docs_block() { echo "$1" >&3; }
# curl as the user runs it, plus its HTTP status checked: an error
# answer fails unless DOCS_EXPECT (from the line's comment) names it.
curl() {
	local a rc err codes c bad=
	for a; do
		case $a in -w | --write-out | -w*) command curl "$@" && return 0 || return; esac
	done
	err=$(mktemp)
	command curl "$@" -w '%{stderr}@@docs-http %{http_code}\n' 2>"$err" && rc=0 || rc=$?
	codes=$(sed -n 's/^.*@@docs-http \([0-9]*\)$/\1/p' "$err")
	sed 's/@@docs-http [0-9]*$//' "$err" | grep -v '^$' >&2 || true
	rm -f "$err"
	for c in $codes; do
		if [[ -n "${DOCS_EXPECT:-}" ]]; then
			[[ "$c" == "$DOCS_EXPECT" ]] && rc=0 || bad="$c, not $DOCS_EXPECT"
		elif ((c >= 400)); then
			bad=$c
		fi
	done
	if [[ -n "$bad" ]]; then
		# the URL only: headers may carry a token
		printf '\ndocs.sh: HTTP %s from %s\n' "$bad" "$(printf '%s\n' "$@" | grep '^https\?://' | head -1)" >&2
		return 22
	fi
	return $rc
}
trap 'printf "\ndocs.sh: exit %s at: %s\n" $? "$BASH_COMMAND" >&2' ERR
# A block that fails between "cmd &" and its "kill %1" leaves no server
# behind to answer the next page's (or the next run's) requests.
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT
set -Eeo pipefail
. "$1"
