# Starts and stops a software TPM (swtpm) with EK certificates for tests:
# source this file, call swtpm_start DIR, use $TPM2TOOLS_TCTI, then swtpm_stop
# (or swtpm_cleanup, which also removes DIR).
#
# swtpm_start DIR: makes a local CA in DIR/ca (the "manufacturer root",
# DIR/ca/issuercert.pem plus swtpm_localca's self-signed root), provisions a
# TPM 2 in DIR/state with an RSA-2048 EK (0x81010001) and an ECC EK
# (P-384 at 0x81010016, swtpm 0.7) with certificates in NV, starts
# `swtpm socket` on a free port and exports SWTPM_PORT, SWTPM_CTRL_PORT,
# SWTPM_PID, SWTPM_DIR and TPM2TOOLS_TCTI (also printed on stdout).
# swtpm has no resource manager: run `tpm2_flushcontext -t` between tpm2-tools
# calls that load transient objects (swtpm_flush does that). Safe under
# `set -e`.

swtpm__free_port() { # prints a TCP port nobody listens on, with port+1 free too
	local p
	for _ in $(seq 1 50); do
		p=$((20000 + RANDOM % 20000))
		if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null &&
			! (exec 3<>/dev/tcp/127.0.0.1/$((p + 1))) 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# swtpm__setup DIR: the local CA in DIR/ca and the provisioned TPM in DIR/state.
swtpm__setup() {
	local dir=$1 runas=()
	mkdir -p "$dir/ca" "$dir/state" || return 1
	dir=$(cd "$dir" && pwd)
	# swtpm_setup drops to user tss unless told otherwise; as root keep root
	# so it can write into our temporary folder.
	[[ $(id -u) -eq 0 ]] && runas=(--runas root)
	cat >"$dir/swtpm-localca.conf" <<-CONF
		statedir = $dir/ca
		signingkey = $dir/ca/signkey.pem
		issuercert = $dir/ca/issuercert.pem
		certserial = $dir/ca/certserial
	CONF
	cat >"$dir/swtpm-localca.options" <<-CONF
		--platform-manufacturer Orchard
		--platform-version 2.1
		--platform-model test
	CONF
	cat >"$dir/swtpm_setup.conf" <<-CONF
		create_certs_tool= /usr/bin/swtpm_localca
		create_certs_tool_config = $dir/swtpm-localca.conf
		create_certs_tool_options = $dir/swtpm-localca.options
		active_pcr_banks = sha256,sha384
	CONF
	if ! swtpm_setup "${runas[@]}" --tpm2 --tpmstate "$dir/state" --createek --create-ek-cert \
		--config "$dir/swtpm_setup.conf" --logfile "$dir/setup.log" >/dev/null 2>&1; then
		echo "swtpm_setup failed:" >&2
		cat "$dir/setup.log" >&2
		return 1
	fi
}

# With ORCHARD_SWTPM_TEMPLATE=DIR (tests/run sets it), the Nth TPM a test
# starts is a copy of DIR/N, provisioned once for the whole run by whichever
# test needs it first: swtpm_setup and its CA cost a second of CPU, and the
# suite starts about sixty TPMs. A test's TPMs still differ from one another.
swtpm_start() { # DIR
	local dir=$1 tpl=${ORCHARD_SWTPM_TEMPLATE:-}
	mkdir -p "$dir" || return 1
	dir=$(cd "$dir" && pwd)
	SWTPM__N=$((${SWTPM__N:-0} + 1))
	if [[ -n "$tpl" ]]; then
		tpl+=/$SWTPM__N
		mkdir -p "$tpl" || return 1
		(
			flock 9
			[[ -f "$tpl/ready" ]] || { swtpm__setup "$tpl" && touch "$tpl/ready"; }
		) 9>"$tpl.lock" || return 1
		cp -a "$tpl/ca" "$tpl/state" "$dir/" || return 1
	else
		swtpm__setup "$dir" || return 1
	fi
	# A port found free may be taken before swtpm binds it (the other test
	# pass runs beside this one): try three.
	local port try
	for try in 1 2 3; do
		port=$(swtpm__free_port) || return 1
		swtpm socket --tpm2 --tpmstate "dir=$dir/state" \
			--server "type=tcp,port=$port,bindaddr=127.0.0.1" \
			--ctrl "type=tcp,port=$((port + 1)),bindaddr=127.0.0.1" \
			--flags not-need-init,startup-clear --log "file=$dir/swtpm.log" \
			--pid "file=$dir/swtpm.pid" --daemon && break
		((try == 3)) && return 1
	done
	export SWTPM_DIR=$dir SWTPM_PORT=$port SWTPM_CTRL_PORT=$((port + 1))
	export SWTPM_PID
	SWTPM_PID=$(cat "$dir/swtpm.pid")
	export TPM2TOOLS_TCTI="swtpm:host=127.0.0.1,port=$port"
	# Wait until it answers.
	local i
	for i in $(seq 1 50); do
		tpm2_getrandom 4 >/dev/null 2>&1 && break
		sleep 0.1
	done
	echo "$TPM2TOOLS_TCTI"
}

swtpm_flush() { tpm2_flushcontext -t >/dev/null 2>&1 || true; }

# swtpm_t CMD...: runs a tpm2-tools command quietly, showing its errors on
# stderr when it fails, and flushes the transient objects it left behind.
swtpm_t() {
	local err
	err=$("$@" 2>&1 >/dev/null) || {
		echo "# tpm2 command failed: $*" >&2
		echo "$err" >&2
		swtpm_flush
		return 1
	}
	swtpm_flush
}

# The CA swtpm_localca made: the root and the intermediate that signs EKs,
# concatenated into DIR/ca/roots/ for a verifier's --roots folder.
swtpm_roots_dir() {
	local d=$SWTPM_DIR/ca/roots
	mkdir -p "$d"
	cp "$SWTPM_DIR"/ca/*cert*.pem "$d"/ 2>/dev/null
	echo "$d"
}

swtpm_stop() {
	if [[ -n "${SWTPM_PID:-}" ]]; then
		# The control channel's shutdown is immediate; SIGTERM can take seconds.
		swtpm_ioctl --tcp "127.0.0.1:$SWTPM_CTRL_PORT" -s >/dev/null 2>&1 || kill "$SWTPM_PID" 2>/dev/null
		# A daemonised swtpm is reparented to init, which may reap it late:
		# a zombie counts as gone.
		for _ in $(seq 1 40); do
			grep -qs '^State:[[:space:]]*[^Z]' "/proc/$SWTPM_PID/status" || break
			sleep 0.05
		done
		kill -9 "$SWTPM_PID" 2>/dev/null || true
	fi
	unset SWTPM_PID
}

# swtpm_cleanup: stops the swtpm and removes the folder swtpm_start made
# (its state, CA and logs). Use it in an EXIT trap.
swtpm_cleanup() {
	swtpm_stop
	if [[ -n "${SWTPM_DIR:-}" && -d "$SWTPM_DIR" ]]; then
		rm -rf "$SWTPM_DIR"
	fi
	unset SWTPM_DIR SWTPM_PORT SWTPM_CTRL_PORT TPM2TOOLS_TCTI
}

# ek_registration_id EK_PUB: the registration ID a device derives from its
# EK's TPM2B_PUBLIC (lowercase base32 of its SHA-256, no padding), as
# orchard-agent does when none is configured.
ek_registration_id() {
	python3 -c 'import base64,hashlib,sys; print(base64.b32encode(hashlib.sha256(open(sys.argv[1],"rb").read()).digest()).decode().lower().rstrip("="))' "$1"
}
