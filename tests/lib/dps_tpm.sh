# The DPS TPM registration of a swtpm with tpm2-tools, for tests that need
# a TPM device to exist (registered and assigned) before they do something
# else with it. Source after orchardd.sh, dps.sh and swtpm.sh, with a
# running swtpm (swtpm_start) and SCOPE set to the ID scope.
#   dps_tpm_srk DIR          an RSA SRK at 0x81000001; writes DIR/srk.pub, DIR/ek.pub
#   dps_tpm_register DIR REG registers REG (an enrollment pinning DIR/ek.pub
#                            must exist): the 401 with an authenticationKey,
#                            ActivateCredential + Import + Load, the SAS the
#                            TPM's HMAC signs; 0 when assigned
# The same steps as tests/integration/dps_tpm.sh, which tests each of them.

dps_tpm__t() { "$@" >/dev/null 2>&1 || { swtpm_flush; return 1; }; swtpm_flush; }

dps_tpm_srk() {
	mkdir -p "$1"
	dps_tpm__t tpm2_readpublic -c 0x81010001 -o "$1/ek.pub" &&
		dps_tpm__t tpm2_createprimary -C o -g sha256 -G rsa2048:aes128cfb -c "$1/srk.ctx" &&
		dps_tpm__t tpm2_evictcontrol -C o -c "$1/srk.ctx" 0x81000001 &&
		dps_tpm__t tpm2_readpublic -c 0x81000001 -o "$1/srk.pub"
}

dps_tpm_register() {
	local d=$1 reg=$2 ak sr se sig
	local dv="api-version=2019-03-31"
	http PUT "/$SCOPE/registrations/$reg/register?$dv" "${JSON[@]}" -d '{"registrationId":"'"$reg"'",
		"tpm":{"endorsementKey":"'"$(base64 -w0 <"$d/ek.pub")"'","storageRootKey":"'"$(base64 -w0 <"$d/srk.pub")"'"}}'
	[[ $STATUS == 401 ]] || return 1
	ak=$(jq -r .authenticationKey <<<"$BODY")
	base64 -d <<<"$ak" >"$d/blob.bin" &&
		python3 "$ROOT/tests/integration/verifier/splitdps.py" "$d/blob.bin" "$d" || return 1
	dps_tpm__t tpm2_startauthsession --policy-session -S "$d/sess.ctx" || return 1
	tpm2_policysecret -S "$d/sess.ctx" -c e >/dev/null 2>&1 &&
		tpm2_activatecredential -c 0x81000001 -C 0x81010001 -i "$d/cred.out" -o "$d/inner.bin" \
			-P "session:$d/sess.ctx" >/dev/null 2>&1
	local rc=$?
	tpm2_flushcontext "$d/sess.ctx" >/dev/null 2>&1
	swtpm_flush
	((rc == 0)) || return 1
	dps_tpm__t tpm2_import -C 0x81000001 -i "$d/dup.priv" -s "$d/seed.dat" -k "$d/inner.bin" \
		-u "$d/key.pub" -r "$d/key.priv" &&
		dps_tpm__t tpm2_load -C 0x81000001 -u "$d/key.pub" -r "$d/key.priv" -c "$d/hmac.ctx" || return 1
	sr="$SCOPE/registrations/$reg" se=$(($(date +%s) + 3600))
	printf '%s\n%s' "$sr" "$se" >"$d/sas.txt"
	tpm2_hmac -c "$d/hmac.ctx" -o "$d/sas.mac" "$d/sas.txt" >/dev/null 2>&1
	rc=$?
	swtpm_flush
	((rc == 0)) || return 1
	sig=$(base64 -w0 <"$d/sas.mac")
	http PUT "/$SCOPE/registrations/$reg/register?$dv" "${JSON[@]}" -d '{"registrationId":"'"$reg"'"}' \
		-H "Authorization: SharedAccessSignature sr=$sr&sig=$(urlenc "$sig")&se=$se&skn=registration"
	[[ $STATUS == 200 && $(jq -r .status <<<"$BODY") == assigned ]]
}
