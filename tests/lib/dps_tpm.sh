# The DPS TPM flow's device side with tpm2-tools against a swtpm: for
# tests/integration/dps_tpm.sh, which tests each step, and for tests that
# need a TPM device registered before they do something else with it.
# Source after orchardd.sh, dps.sh and swtpm.sh, with a running swtpm
# (swtpm_start) and SCOPE set to the ID scope.
#   dps_tpm_t CMD...            a tpm2-tools call, then swtpm_flush (swtpm has no
#                               resource manager); a failure prints the command
#                               and its stderr as TAP comments
#   dps_tpm_srk DIR             an RSA SRK at 0x81000001; writes DIR/srk.pub, DIR/ek.pub
#   dps_tpm_open B64 DIR [EK [SRK]]
#                               the TPM recovers the HMAC key of an authenticationKey
#                               (ActivateCredential with the EK, Import under the SRK,
#                               Load) into DIR/hmac.ctx; swtpm's RSA EK (0x81010001, the
#                               default) takes PolicySecret(endorsement), its P-384 EK
#                               (0x81010016) userWithAuth
#   dps_tpm_sign_sas DIR SR [SKN]
#                               a SAS for resource SR the TPM signs with DIR/hmac.ctx
#   dps_tpm_sas DIR REG         the same for REG's registration
#   dps_tpm_register DIR REG    registers REG (an enrollment pinning DIR/ek.pub must
#                               exist): the 401, dps_tpm_open, the SAS; 0 when assigned

dps_tpm_t() {
	"$@" >/dev/null 2>"$TMP/tpm2.err" || {
		echo "# tpm2 command failed: $*" >&2
		sed 's/^/# /' "$TMP/tpm2.err" >&2
		swtpm_flush
		return 1
	}
	swtpm_flush
}

dps_tpm_srk() {
	mkdir -p "$1"
	dps_tpm_t tpm2_readpublic -c 0x81010001 -o "$1/ek.pub" &&
		dps_tpm_t tpm2_createprimary -C o -g sha256 -G rsa2048:aes128cfb -c "$1/srk.ctx" &&
		dps_tpm_t tpm2_evictcontrol -C o -c "$1/srk.ctx" 0x81000001 &&
		dps_tpm_t tpm2_readpublic -c 0x81000001 -o "$1/srk.pub"
}

dps_tpm_open() {
	local ek=${3:-0x81010001} srk=${4:-0x81000001} auth=() rc
	mkdir -p "$2"
	base64 -d <<<"$1" >"$2/blob.bin" &&
		python3 "$ROOT/tests/integration/verifier/splitdps.py" "$2/blob.bin" "$2" || return 1
	if [[ $ek == 0x81010001 ]]; then
		dps_tpm_t tpm2_startauthsession --policy-session -S "$2/sess.ctx" &&
			dps_tpm_t tpm2_policysecret -S "$2/sess.ctx" -c e || return 1
		auth=(-P "session:$2/sess.ctx")
	fi
	tpm2_activatecredential -c "$srk" -C "$ek" -i "$2/cred.out" -o "$2/inner.bin" \
		"${auth[@]}" >/dev/null 2>"$TMP/act.err"
	rc=$?
	tpm2_flushcontext "$2/sess.ctx" >/dev/null 2>&1
	swtpm_flush
	((rc == 0)) &&
		dps_tpm_t tpm2_import -C "$srk" -i "$2/dup.priv" -s "$2/seed.dat" -k "$2/inner.bin" \
			-u "$2/key.pub" -r "$2/key.priv" &&
		dps_tpm_t tpm2_load -C "$srk" -u "$2/key.pub" -r "$2/key.priv" -c "$2/hmac.ctx"
}

dps_tpm_sign_sas() {
	local se=$(($(date +%s) + 3600)) sig
	printf '%s\n%s' "$2" "$se" >"$1/sas.txt"
	tpm2_hmac -c "$1/hmac.ctx" -o "$1/sas.mac" "$1/sas.txt" >/dev/null 2>&1 || return 1
	swtpm_flush
	sig=$(base64 -w0 <"$1/sas.mac")
	printf 'SharedAccessSignature sr=%s&sig=%s&se=%s%s' "$2" "$(urlenc "$sig")" "$se" "${3:+&skn=$3}"
}

dps_tpm_sas() { dps_tpm_sign_sas "$1" "$SCOPE/registrations/$2" registration; }

dps_tpm_register() {
	local d=$1 reg=$2 dv="api-version=2019-03-31" sas
	http PUT "/$SCOPE/registrations/$reg/register?$dv" "${JSON[@]}" -d '{"registrationId":"'"$reg"'",
		"tpm":{"endorsementKey":"'"$(base64 -w0 <"$d/ek.pub")"'","storageRootKey":"'"$(base64 -w0 <"$d/srk.pub")"'"}}'
	[[ $STATUS == 401 ]] && dps_tpm_open "$(jq -r .authenticationKey <<<"$BODY")" "$d" &&
		sas=$(dps_tpm_sas "$d" "$reg") || return 1
	http PUT "/$SCOPE/registrations/$reg/register?$dv" "${JSON[@]}" -d '{"registrationId":"'"$reg"'"}' \
		-H "Authorization: $sas"
	[[ $STATUS == 200 && $(jq -r .status <<<"$BODY") == assigned ]]
}
