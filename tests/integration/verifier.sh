#!/bin/bash
# Integration test for verifier/ with a real swtpm: tpm2-tools makes EKs,
# AKs, quotes and activations; orchard-verify must accept the real evidence
# and reject every forged or broken variant with its specific reason code.
set -u
cd "$(dirname "$0")/../.."
source tests/lib/tap.sh
source tests/lib/swtpm.sh

V=$PWD/$BUILD/orchard-verify
SAN_PASS=0
[[ $BUILD == build-san ]] && SAN_PASS=1
T=$(mktemp -d /tmp/orchard-verifier.XXXXXX)
cleanup() { swtpm_stop; rm -rf "$T"; }
trap cleanup EXIT

# reject NAME CODE CMD...: CMD must exit non-zero and name CODE on stderr.
reject() {
	local name=$1 code=$2 out
	shift 2
	if out=$("$@" 2>&1); then
		tap_nok "$name" "accepted: $out"
	elif grep -q "rejected: $code:" <<<"$out"; then
		tap_ok "$name"
	else
		tap_nok "$name" "wanted $code, got: $out"
	fi
}
# t CMD...: a tpm2-tools call; swtpm has no resource manager, so flush the
# transient objects each call leaves behind.
t() {
	"$@" >/dev/null 2>"$T/tpm2.err" || {
		echo "# tpm2 command failed: $*" >&2
		cat "$T/tpm2.err" >&2
		swtpm_flush
		return 1
	}
	swtpm_flush
}
flip() { # FILE OFFSET: xor one byte, in a copy printed on stdout
	python3 -c 'import sys; b=bytearray(open(sys.argv[1],"rb").read()); o=int(sys.argv[2]); b[o]^=1; sys.stdout.buffer.write(b)' "$1" "$2"
}

if ! swtpm_start "$T/tpm" >/dev/null; then
	tap_nok "swtpm starts" "see above"
	tap_done
	exit 1
fi
tap_ok "swtpm with EK certificates starts"
cd "$T"
ROOTS=$(swtpm_roots_dir)

# --- EK certificates --------------------------------------------------------
t tpm2_readpublic -c 0x81010001 -o ek_rsa.pub
t tpm2_readpublic -c 0x81010016 -o ek_ecc.pub
t tpm2_nvread 0x01c00002 -o ek_rsa.der
t tpm2_nvread 0x01c00016 -o ek_ecc.der
expect "EK RSA-2048 certificate chains and matches its public area" $V ek --cert ek_rsa.der --roots "$ROOTS" --ek-pub ek_rsa.pub
expect "EK ECC P-384 certificate chains and matches its public area" $V ek --cert ek_ecc.der --roots "$ROOTS" --ek-pub ek_ecc.pub
openssl x509 -inform der -in ek_rsa.der -out ek_rsa.pem
expect "EK certificate in PEM" $V ek --cert ek_rsa.pem --roots "$ROOTS"
regid=$($V ek --cert ek_rsa.der --roots "$ROOTS" --ek-pub ek_rsa.pub 2>/dev/null)
regid2=$($V ek --cert ek_rsa.der --roots "$ROOTS" --ek-pub ek_rsa.pub 2>/dev/null)
if [[ $regid =~ ^registration-id:\ [a-z2-7]{52}$ && $regid == "$regid2" ]]; then tap_ok "registration ID is stable"; else tap_nok "registration ID is stable" "$regid / $regid2"; fi
reject "EK certificate for another key" ek-cert-mismatch $V ek --cert ek_rsa.der --roots "$ROOTS" --ek-pub ek_ecc.pub
mkdir other
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other/k.pem -subj /CN=other-root -days 30 -out other/root.pem 2>/dev/null
rm other/k.pem
reject "EK certificate not chaining to the roots" ek-chain $V ek --cert ek_rsa.der --roots other
reject "EK certificate before its notBefore" ek-not-yet-valid $V ek --cert ek_rsa.der --roots "$ROOTS" --at 1000000000
head -c 200 ek_rsa.der >ek_trunc.der
reject "truncated EK certificate" ek-cert-malformed $V ek --cert ek_trunc.der --roots "$ROOTS"
head -c 500 /dev/urandom >garbage.bin
reject "garbage EK certificate" ek-cert-malformed $V ek --cert garbage.bin --roots "$ROOTS"

# An expired certificate and TCG-profile quirks, signed by the swtpm CA.
cat >ca.cnf <<CNF
[ca]
default_ca = d
[d]
database = $T/index.txt
new_certs_dir = $T
serial = $T/serial
default_md = sha256
policy = p
copy_extensions = none
[p]
commonName = optional
[ek_ext]
keyUsage = critical, keyAgreement
extendedKeyUsage = 2.23.133.8.1
subjectAltName = critical, dirName:tpm_dn
subjectDirectoryAttributes_quirk = critical
2.5.29.9 = critical, DER:3016301406056781050210310b300904024e3f02014a020100
# (OpenSSL reads "N." before a field name as a repeat marker, hence "a.")
[tpm_dn]
a.2.23.133.2.1 = id:4F524348
a.2.23.133.2.2 = orchard
a.2.23.133.2.3 = id:00010002
[bad_ext]
keyUsage = critical, keyAgreement
1.2.3.4.5 = critical, DER:0500
CNF
sed -i '/subjectDirectoryAttributes_quirk/d' ca.cnf
: >index.txt
echo 1000 >serial
t tpm2_createek -c ek256.ctx -G ecc256 -u ek_p256.pub
t tpm2_readpublic -c ek256.ctx -f pem -o ek_p256.pem
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout csr.key -subj "/CN=x" -out csr.pem 2>/dev/null
openssl x509 -req -in csr.pem -CA "$SWTPM_DIR/ca/issuercert.pem" -CAkey "$SWTPM_DIR/ca/signkey.pem" -force_pubkey ek_p256.pem \
	-set_serial 77 -days 3650 -extfile ca.cnf -extensions ek_ext -outform der -out ek_p256.der 2>openssl.err ||
	cat openssl.err >&2
# Store it where a manufacturer puts a P-256 EK certificate, read it back.
t tpm2_nvdefine 0x01c0000a -C o -s "$(stat -c %s ek_p256.der)" -a "ownerread|ownerwrite|authread|authwrite|no_da"
t tpm2_nvwrite 0x01c0000a -C o -i ek_p256.der
t tpm2_nvread 0x01c0000a -C o -o ek_p256_nv.der
expect "EK ECC P-256 certificate at 0x01c0000a with critical SAN and critical TCG subject directory attributes" \
	$V ek --cert ek_p256_nv.der --roots "$ROOTS" --ek-pub ek_p256.pub
openssl x509 -req -in csr.pem -CA "$SWTPM_DIR/ca/issuercert.pem" -CAkey "$SWTPM_DIR/ca/signkey.pem" -force_pubkey ek_p256.pem \
	-set_serial 78 -days 3650 -extfile ca.cnf -extensions bad_ext -outform der -out ek_badext.der 2>/dev/null
reject "EK certificate with an unknown critical extension" ek-chain $V ek --cert ek_badext.der --roots "$ROOTS"
openssl ca -batch -config ca.cnf -in csr.pem -cert "$SWTPM_DIR/ca/issuercert.pem" -keyfile "$SWTPM_DIR/ca/signkey.pem" \
	-startdate 20200101000000Z -enddate 20210101000000Z -notext -out ek_expired.pem >/dev/null 2>&1
reject "expired EK certificate" ek-expired $V ek --cert ek_expired.pem --roots "$ROOTS"

# --- AKs and quotes ---------------------------------------------------------
t tpm2_createak -C 0x81010001 -c ak_rsa.ctx -G rsa -g sha256 -s rsassa -u ak_rsa.pub -n ak_rsa.name
t tpm2_createak -C 0x81010016 -c ak_ecc.ctx -G ecc256 -g sha256 -s ecdsa -u ak_ecc.pub -n ak_ecc.name
t tpm2_createak -C 0x81010001 -c ak_pss.ctx -G rsa -g sha384 -s rsapss -u ak_pss.pub -n ak_pss.name
t tpm2_createak -C 0x81010001 -c ak_rsa2.ctx -G rsa -g sha256 -s rsassa -u ak_rsa2.pub -n ak_rsa2.name
t tpm2_pcrextend 7:sha256=0000000000000000000000000000000000000000000000000000000000000007
quote() { # AK NAME NONCE PCRLIST [HASH [SCHEME]]
	t tpm2_quote -c "$1.ctx" -l "$4" -q "$3" -m "$2.msg" -s "$2.sig" -o "$2.pcrs" -g "${5:-sha256}" ${6:+--scheme $6}
}
vq() { # AK NAME NONCE [more args]: orchard-verify quote
	local ak=$1 q=$2 n=$3
	shift 3
	$V quote --ak "$ak.pub" --msg "$q.msg" --sig "$q.sig" --pcrs "$q.pcrs" --nonce "$n" "$@"
}
N1=00112233445566778899aabbccddeeff
quote ak_rsa q_rsa $N1 sha256:0,1,2,7
quote ak_ecc q_ecc $N1 sha256:0,1,2,7
quote ak_pss q_pss $N1 sha256:0,7+sha384:0,7 sha384 rsapss
t tpm2_createak -C 0x81010016 -c ak_p384.ctx -G ecc384 -g sha384 -s ecdsa -u ak_p384.pub -n ak_p384.name
quote ak_p384 q_p384 $N1 sha384:0,7 sha384
expect "RSA AK (RSASSA, SHA-256) quote accepted" vq ak_rsa q_rsa $N1 --ek-pub ek_rsa.pub
expect "ECC P-256 AK (ECDSA) under the P-384 EK accepted" vq ak_ecc q_ecc $N1 --ek-pub ek_ecc.pub
expect "RSA AK (RSA-PSS, SHA-384) quote over two banks accepted" vq ak_pss q_pss $N1 --ek-pub ek_rsa.pub
expect "ECC P-384 AK (ECDSA, SHA-384) quote accepted" vq ak_p384 q_p384 $N1 --ek-pub ek_ecc.pub
t tpm2_quote -c ak_rsa.ctx -l sha256:0,7 -q $N1 -m q_val.msg -s q_val.sig -o q_val.pcrs -F values -g sha256
expect "tpm2-tools 'values' PCR file accepted" vq ak_rsa q_val $N1
reject "wrong nonce" nonce-mismatch vq ak_rsa q_rsa 00112233445566778899aabbccddeefe
reject "signature from another AK" sig-invalid vq ak_rsa2 q_rsa $N1
reject "RSA quote checked with an ECC AK" sig-scheme vq ak_ecc q_rsa $N1
reject "RSASSA quote checked with an RSA-PSS AK" sig-scheme vq ak_pss q_rsa $N1
reject "AK bound to another EK (EK/AK substitution)" quote-signer vq ak_rsa q_rsa $N1 --ek-pub ek_ecc.pub
flip q_rsa.msg 40 >q_tm.msg; cp q_rsa.sig q_tm.sig; cp q_rsa.pcrs q_tm.pcrs
reject "tampered quote byte" sig-invalid vq ak_rsa q_tm $N1
cp q_rsa.msg q_tp.msg; cp q_rsa.sig q_tp.sig; flip q_rsa.pcrs 300 >q_tp.pcrs
reject "tampered PCR value" pcr-digest vq ak_rsa q_tp $N1
flip q_rsa.sig 100 >q_ts.sig; cp q_rsa.msg q_ts.msg; cp q_rsa.pcrs q_ts.pcrs
reject "tampered signature" sig-invalid vq ak_rsa q_ts $N1
head -c 60 q_rsa.msg >q_tr.msg; cp q_rsa.sig q_tr.sig; cp q_rsa.pcrs q_tr.pcrs
reject "truncated quote message" sig-invalid vq ak_rsa q_tr $N1
head -c 100 q_rsa.sig >q_ts2.sig; cp q_rsa.msg q_ts2.msg; cp q_rsa.pcrs q_ts2.pcrs
reject "truncated signature" sig-malformed vq ak_rsa q_ts2 $N1
head -c 200 q_rsa.pcrs >q_tp2.pcrs; cp q_rsa.msg q_tp2.msg; cp q_rsa.sig q_tp2.sig
reject "truncated PCR file" pcrs-malformed vq ak_rsa q_tp2 $N1
head -c 100 ak_rsa.pub >ak_tr.pub
reject "truncated AK public area" public-size $V quote --ak ak_tr.pub --msg q_rsa.msg --sig q_rsa.sig --pcrs q_rsa.pcrs --nonce $N1
head -c 282 /dev/urandom >ak_gb.pub
reject "garbage AK public area" public-size $V quote --ak ak_gb.pub --msg q_rsa.msg --sig q_rsa.sig --pcrs q_rsa.pcrs --nonce $N1
head -c 262 /dev/urandom >q_gb.sig; cp q_rsa.msg q_gb.msg; cp q_rsa.pcrs q_gb.pcrs
reject "garbage signature" sig-malformed vq ak_rsa q_gb $N1

# Keys a verifier must not accept as AKs, though the TPM quotes with them.
t tpm2_createprimary -C o -g sha256 -G rsa -c prim.ctx
t tpm2_create -C prim.ctx -G rsa -g sha256 -u unr.pub -r unr.priv \
	-a "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign"
t tpm2_load -C prim.ctx -u unr.pub -r unr.priv -c unr.ctx
t tpm2_create -C prim.ctx -G rsa2048:rsassa-sha256:null -g sha256 -u nft.pub -r nft.priv \
	-a "restricted|sensitivedataorigin|userwithauth|sign"
t tpm2_load -C prim.ctx -u nft.pub -r nft.priv -c nft.ctx
quote unr q_unr $N1 sha256:0,7
quote nft q_nft $N1 sha256:0,7
reject "quote by a key without restricted" ak-not-restricted vq unr q_unr $N1
reject "quote by a key without fixedTPM" ak-not-fixedtpm vq nft q_nft $N1

# --- nonce freshness ------------------------------------------------------------
mkdir nonces
NS=$($V nonce --store nonces)
quote ak_rsa q_fresh "$NS" sha256:0,7
expect "issued nonce accepted once" vq ak_rsa q_fresh "$NS" --nonce-store nonces
reject "reused nonce" nonce-unknown vq ak_rsa q_fresh "$NS" --nonce-store nonces
reject "never-issued nonce" nonce-unknown vq ak_rsa q_rsa $N1 --nonce-store nonces
NX=$($V nonce --store nonces --ttl 0)
quote ak_rsa q_exp "$NX" sha256:0,7
reject "expired nonce" nonce-expired vq ak_rsa q_exp "$NX" --nonce-store nonces

# --- reboot / rollback between quotes of one AK -------------------------------------
quote ak_rsa q_later $N1 sha256:0,7
expect "later quote of the same boot accepted after an earlier one" vq ak_rsa q_later $N1 --prev q_rsa.msg
reject "earlier quote presented after a later one (clock rollback)" clock-rollback vq ak_rsa q_rsa $N1 --prev q_later.msg

# --- credential activation round trip ---------------------------------------------
activate() { # AKCTX EKHANDLE CRED OUT [password]
	# The low-range RSA EK has adminWithPolicy and no userWithAuth: its
	# authPolicy is PolicySecret(endorsement). swtpm's high-range P-384 EK
	# sets userWithAuth, so an empty password authorises it.
	local rc
	if [[ ${5:-} == password ]]; then
		tpm2_activatecredential -c "$1" -C "$2" -i "$3" -o "$4" >/dev/null 2>"$T/act.err"
		rc=$?
	else
		t tpm2_startauthsession --policy-session -S sess.ctx &&
			t tpm2_policysecret -S sess.ctx -c e &&
			tpm2_activatecredential -c "$1" -C "$2" -i "$3" -o "$4" -P session:sess.ctx >/dev/null 2>"$T/act.err"
		rc=$?
		tpm2_flushcontext sess.ctx >/dev/null 2>&1
	fi
	swtpm_flush
	return $rc
}
head -c 32 /dev/urandom >secret.bin
expect "makecredential for the RSA EK" $V makecredential --ek-pub ek_rsa.pub --ak-name ak_rsa.name --ak-pub ak_rsa.pub --secret secret.bin --out cred_rsa.out
if activate ak_rsa.ctx 0x81010001 cred_rsa.out got_rsa.bin && cmp -s secret.bin got_rsa.bin; then
	tap_ok "tpm2_activatecredential returns the secret (RSA EK, OAEP 'IDENTITY')"
else
	tap_nok "tpm2_activatecredential returns the secret (RSA EK, OAEP 'IDENTITY')" "$(cat act.err)"
fi
head -c 48 /dev/urandom >secret48.bin
expect "makecredential for the ECC P-384 EK" $V makecredential --ek-pub ek_ecc.pub --ak-name ak_ecc.name --secret secret48.bin --out cred_ecc.out
if activate ak_ecc.ctx 0x81010016 cred_ecc.out got_ecc.bin password && cmp -s secret48.bin got_ecc.bin; then
	tap_ok "tpm2_activatecredential returns the secret (ECC P-384 EK, ECDH + KDFe)"
else
	tap_nok "tpm2_activatecredential returns the secret (ECC P-384 EK, ECDH + KDFe)" "$(cat act.err)"
fi
expect "makecredential bound to the RSA AK's name, sent to the ECC EK" $V makecredential --ek-pub ek_ecc.pub --ak-name ak_rsa.name --secret secret.bin --out cred_wrong.out
if activate ak_ecc.ctx 0x81010016 cred_wrong.out got_wrong.bin password; then
	tap_nok "credential for another AK does not activate" "TPM released it"
else
	tap_ok "credential for another AK does not activate"
fi
# The low-range ECC P-256 EK (0x01c0000a's key): ECDH + KDFe with SHA-256.
t tpm2_createak -C ek256.ctx -c ak_p256ek.ctx -G ecc256 -g sha256 -s ecdsa -u ak_p256ek.pub -n ak_p256ek.name
expect "makecredential for the ECC P-256 EK" $V makecredential --ek-pub ek_p256.pub --ak-pub ak_p256ek.pub --secret secret.bin --out cred_p256.out
if activate ak_p256ek.ctx ek256.ctx cred_p256.out got_p256.bin && cmp -s secret.bin got_p256.bin; then
	tap_ok "tpm2_activatecredential returns the secret (ECC P-256 EK)"
else
	tap_nok "tpm2_activatecredential returns the secret (ECC P-256 EK)" "$(cat act.err)"
fi
reject "makecredential refuses a non-AK" ak-not-restricted $V makecredential --ek-pub ek_rsa.pub --ak-pub unr.pub --secret secret.bin --out x.out
reject "makecredential refuses a name that is not the AK's" ak-name-mismatch $V makecredential --ek-pub ek_rsa.pub --ak-pub ak_rsa.pub --ak-name ak_ecc.name --secret secret.bin --out x.out

# --- DPS TPM authenticationKey: activate, import, load, HMAC ----------------------------
SPLIT=$OLDPWD/tests/integration/verifier/splitdps.py
t tpm2_createprimary -C o -g sha256 -G rsa2048:aes128cfb -c srk.ctx
t tpm2_evictcontrol -C o -c srk.ctx 0x81000001
t tpm2_readpublic -c 0x81000001 -o srk.pub
head -c 32 /dev/urandom >dps.key
mkdir dps
expect "DPS authenticationKey built for EK and SRK" $V dps-authkey --ek-pub ek_rsa.pub --srk-pub srk.pub --key dps.key --out dps/blob.bin
printf '0ne000A1/registrations/dev-01\n1700000000' >dps/sas.txt
if python3 "$SPLIT" dps/blob.bin dps && activate 0x81000001 0x81010001 dps/cred.out dps/inner.bin &&
	t tpm2_import -C 0x81000001 -i dps/dup.priv -s dps/seed.dat -k dps/inner.bin -u dps/key.pub -r dps/key.priv &&
	t tpm2_load -C 0x81000001 -u dps/key.pub -r dps/key.priv -c dps/hmac.ctx &&
	tpm2_hmac -c dps/hmac.ctx -o dps/tpm.mac dps/sas.txt >/dev/null 2>&1 &&
	openssl dgst -sha256 -mac HMAC -macopt hexkey:"$(od -An -tx1 -v dps.key | tr -d ' \n')" -binary dps/sas.txt >dps/want.mac &&
	cmp -s dps/tpm.mac dps/want.mac; then
	tap_ok "TPM imports the DPS key and its TPM2_HMAC equals HMAC with the server's key"
else
	tap_nok "TPM imports the DPS key and its TPM2_HMAC equals HMAC with the server's key" "$(cat act.err tpm2.err 2>/dev/null)"
fi
swtpm_flush
reject "DPS authenticationKey refuses an SRK that is not AES-128-CFB" dps-keys $V dps-authkey --ek-pub ek_rsa.pub --srk-pub ek_ecc.pub --key dps.key --out x.bin

# --- event log replay and PCR policy -------------------------------------------
MKLOG=$OLDPWD/tests/integration/verifier/mklog.py
for x in $(python3 "$MKLOG" boot.log); do t tpm2_pcrextend "$x"; done
python3 "$MKLOG" bad.log tamper >/dev/null
quote ak_rsa q_log $N1 sha256:0,7,8,9+sha384:8,9
quote ak_rsa q_nolog $N1 sha256:0,7
expect "event log replays to the quoted PCRs (SHA-256 and SHA-384 banks)" vq ak_rsa q_log $N1 --eventlog boot.log
reject "event log that does not replay to the quoted PCRs" eventlog-mismatch vq ak_rsa q_log $N1 --eventlog bad.log
reject "event log sharing no PCR with the quote" eventlog-uncovered vq ak_rsa q_nolog $N1 --eventlog boot.log
head -c 150 boot.log >trunc.log
reject "truncated event log" eventlog-truncated vq ak_rsa q_log $N1 --eventlog trunc.log
reject "garbage event log" eventlog-truncated vq ak_rsa q_log $N1 --eventlog garbage.bin
python3 -c 'import sys; b=open("boot.log","rb").read(); open("sha1.log","wb").write(b.replace(b"Spec ID Event03", b"Spec ID Event02"))'
reject "event log without a crypto-agile Spec ID event" eventlog-specid vq ak_rsa q_log $N1 --eventlog sha1.log
pcr() { tpm2_pcrread "$1:$2" | awk -v p="$2" '$1 == p { sub(/^0x/, "", $3); print tolower($3) }'; }
P0=$(pcr sha256 0) P7=$(pcr sha256 7) P9=$(pcr sha256 9)
ZERO=$(printf '%064d' 0)
cat >good.json <<JSON
{"pcrs": {"sha256": {"0": ["$P0"], "7": ["$ZERO", "$P7"], "9": ["$P9"]}}}
JSON
cat >wrong.json <<JSON
{"pcrs": {"sha256": {"0": ["$P0"], "7": ["$ZERO"]}}}
JSON
cat >subset.json <<JSON
{"pcrs": {"sha256": {"0": ["$P0"], "9": ["$P9"]}}}
JSON
D8=$(python3 -c 'import hashlib; print(hashlib.sha256(b"initrd /initrd.img").hexdigest())')
D9=$(python3 -c 'import hashlib; print(hashlib.sha256(b"orchard app manifest v1").hexdigest())')
cat >events.json <<JSON
{"pcrs": {"sha256": {"0": ["$P0"]}}, "events": {"sha256": {"9": ["$D8", "$D9"]}}}
JSON
cat >events_bad.json <<JSON
{"events": {"sha256": {"9": ["$D8"]}}}
JSON
echo '{"pcrs": {"sha256": {"7": ["00"]}}}' >malformed.json
expect "PCR policy with several allowed values per PCR passes" vq ak_rsa q_log $N1 --policy good.json
reject "PCR value not in the policy" pcr-mismatch vq ak_rsa q_log $N1 --policy wrong.json
reject "policy PCR not covered by the quote (CVE-2022-0317)" pcr-not-quoted vq ak_rsa q_nolog $N1 --policy subset.json
expect "event digests allow-listed per PCR pass" vq ak_rsa q_log $N1 --eventlog boot.log --policy events.json
reject "event digest missing from the allow-list" event-not-allowed vq ak_rsa q_log $N1 --eventlog boot.log --policy events_bad.json
reject "event policy without an event log" eventlog-required vq ak_rsa q_log $N1 --policy events_bad.json
cat >wrong2.json <<JSON
{"pcrs": {"sha256": {"0": ["$P7"], "7": ["$P0"], "10": ["$P0"]}}}
JSON
out=$(vq ak_rsa q_log $N1 --policy wrong2.json 2>&1)
if [[ $(grep -c '^orchard-verify: policy: ' <<<"$out") == 3 && $out == *"pcr-mismatch: sha256 PCR 0"* &&
	$out == *"pcr-mismatch: sha256 PCR 7"* && $out == *"pcr-not-quoted: policy names sha256 PCR 10"* ]]; then
	tap_ok "one reason per failing PCR"
else
	tap_nok "one reason per failing PCR" "$out"
fi
reject "malformed policy" policy-malformed vq ak_rsa q_log $N1 --policy malformed.json

# --- appraisal JWT ------------------------------------------------------------------
openssl ecparam -name prime256v1 -genkey -noout -out jwt.key 2>/dev/null
openssl ec -in jwt.key -pubout -out jwt.pub 2>/dev/null
if jwt=$(vq ak_rsa q_log $N1 --eventlog boot.log --policy good.json --jwt-key jwt.key --device-id dev-42 2>/dev/null) &&
	python3 - "$jwt" <<'PY'; then
import base64, json, sys
h, p, s = sys.argv[1].split(".")
dec = lambda x: json.loads(base64.urlsafe_b64decode(x + "=" * (-len(x) % 4)))
hdr, body = dec(h), dec(p)
assert hdr["alg"] == "ES256", hdr
assert body["sub"] == "dev-42" and body["verdict"] == "pass", body
assert "pcr-policy" in body["checks"] and "eventlog-replay" in body["checks"], body
assert body["exp"] > body["iat"] and body["evidence_time"] > 0, body
assert len(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))) == 64
PY
	tap_ok "appraisal JWT (ES256) carries device, verdict, checks, times"
else
	tap_nok "appraisal JWT (ES256) carries device, verdict, checks, times" "$jwt"
fi
jwt=$(vq ak_rsa q_log $N1 --policy wrong.json --jwt-key jwt.key --device-id dev-42 2>/dev/null)
if [[ $? != 0 ]] && python3 - "$jwt" <<'PY'; then
import base64, json, sys
p = sys.argv[1].split(".")[1]
body = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
assert body["verdict"] == "fail" and body["reason"] == "pcr-mismatch", body
assert "pcr-policy" not in body["checks"] and "quote-signature" in body["checks"], body
PY
	tap_ok "rejected quote still yields a signed 'fail' appraisal with its reason"
else
	tap_nok "rejected quote still yields a signed 'fail' appraisal with its reason" "$jwt"
fi

# --- no leaks, no invalid reads (plain build: valgrind; build-san: ASan) ----------
if ((SAN_PASS == 0)) && command -v valgrind >/dev/null; then
	vg() { valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99 "$@"; }
	vgcase() { # NAME WANT-RC CMD...
		local name=$1 want=$2 rc
		shift 2
		vg "$@" >/dev/null 2>"$T/vg.err"
		rc=$?
		if [[ $rc == "$want" ]]; then tap_ok "valgrind: $name"; else tap_nok "valgrind: $name" "rc $rc: $(cat "$T/vg.err")"; fi
	}
	vgcase "quote with event log, policy and JWT" 0 $V quote --ak ak_rsa.pub --msg q_log.msg --sig q_log.sig --pcrs q_log.pcrs --nonce $N1 --eventlog boot.log --policy events.json --jwt-key jwt.key --ek-pub ek_rsa.pub
	vgcase "ECC quote" 0 $V quote --ak ak_ecc.pub --msg q_ecc.msg --sig q_ecc.sig --pcrs q_ecc.pcrs --nonce $N1
	vgcase "rejected quote (tampered PCRs)" 1 $V quote --ak ak_rsa.pub --msg q_tp.msg --sig q_tp.sig --pcrs q_tp.pcrs --nonce $N1
	vgcase "rejected event log" 1 $V quote --ak ak_rsa.pub --msg q_log.msg --sig q_log.sig --pcrs q_log.pcrs --nonce $N1 --eventlog bad.log --policy good.json
	vgcase "EK chain with quirks" 0 $V ek --cert ek_p256_nv.der --roots "$ROOTS" --ek-pub ek_p256.pub
	vgcase "EK chain rejected" 1 $V ek --cert ek_rsa.der --roots other
	vgcase "DPS authenticationKey" 0 $V dps-authkey --ek-pub ek_rsa.pub --srk-pub srk.pub --key dps.key --out vg.bin
	vgcase "makecredential ECC" 0 $V makecredential --ek-pub ek_ecc.pub --ak-name ak_ecc.name --secret secret48.bin --out vg.out
fi

# --- a reboot between two quotes of a persistent AK -----------------------------
t tpm2_evictcontrol -C o -c ak_rsa.ctx 0x81000100
t tpm2_quote -c 0x81000100 -l sha256:0,7 -q $N1 -m q_pre.msg -s q_pre.sig -o q_pre.pcrs -g sha256
# TPM reset: power cycle over the control channel, then TPM2_Startup(CLEAR).
swtpm_ioctl --tcp "127.0.0.1:$SWTPM_CTRL_PORT" -i >/dev/null && t tpm2_startup -c
t tpm2_quote -c 0x81000100 -l sha256:0,7 -q $N1 -m q_post.msg -s q_post.sig -o q_post.pcrs -g sha256
out=$(vq ak_rsa q_post $N1 --prev q_pre.msg 2>&1)
if [[ $? == 0 && $out == *"since previous quote: rebooted"* ]]; then tap_ok "reboot between quotes detected (clock not compared across it)"; else tap_nok "reboot between quotes detected (clock not compared across it)" "$out"; fi
reject "quote from before the reboot presented as newer (resetCount rollback)" clock-rollback vq ak_rsa q_pre $N1 --prev q_post.msg

# --- the documentation's examples run as written ------------------------------------
if ((SAN_PASS == 0)); then
	# A walkthrough that fails half-way must not leave its swtpm running.
	echo "trap 'type swtpm_stop >/dev/null 2>&1 && swtpm_stop' EXIT" >doc.sh
	awk '/^```sh$/ { f = 1; next } /^```$/ { f = 0 } f' "$OLDPWD/docs/verifier.md" >>doc.sh
	# The walkthrough starts its own swtpm; keep ours untouched.
	if out=$(cd "$OLDPWD" && env -u SWTPM_PID bash -e "$T/doc.sh" 2>&1); then
		tap_ok "docs/verifier.md walkthrough runs"
	else
		tap_nok "docs/verifier.md walkthrough runs" "$out"
	fi
fi

tap_done
