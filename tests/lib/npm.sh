# npm packages for the interop tests. Source after orchardd.sh.
#   npm_prepare DIR MARKER PKG...  installs PKG... into DIR once, under DIR/.lock
#                                  (the plain and sanitizer passes may run side
#                                  by side); MARKER is the package whose folder
#                                  says it is done. Without a reachable npm
#                                  registry the test is skipped (exit 0), at
#                                  once: npm's own retries take minutes, and a
#                                  failure is remembered for ten minutes so the
#                                  other pass does not wait for it again.
npm_prepare() {
	local dir=$1 marker=$2
	shift 2
	mkdir -p "$dir"
	exec 9>"$dir/.lock"
	flock 9
	if [[ ! -d "$dir/node_modules/$marker" ]]; then
		if [[ -n $(find "$dir/.unreachable" -mmin -10 2>/dev/null) ]]; then
			echo "1..0 # SKIP npm could not reach its registry a moment ago"
			exit 0
		fi
		if ! timeout 30 npm ping >"$TMP/npm.log" 2>&1 ||
			! timeout 300 npm install --prefix "$dir" --no-audit --no-fund --loglevel=error \
				"$@" >"$TMP/npm.log" 2>&1; then
			touch "$dir/.unreachable"
			echo "1..0 # SKIP npm cannot reach its registry: $(tail -1 "$TMP/npm.log")"
			exit 0
		fi
	fi
	exec 9>&-
}
