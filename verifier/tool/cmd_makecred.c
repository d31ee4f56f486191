/* orchard-verify makecredential: a credential for tpm2_activatecredential,
 * made in software for an EK public area and an AK Name. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verifier/ak.h"
#include "verifier/makecred.h"
#include "verifier/tool/tool.h"

#define MAX_SMALL (64 * 1024)

int cmd_makecredential(int argc, char **argv)
{
	static const struct option opts[] = {
		{"ek-pub", required_argument, NULL, 'e'}, {"ak-name", required_argument, NULL, 'n'},
		{"ak-pub", required_argument, NULL, 'a'}, {"secret", required_argument, NULL, 's'},
		{"out", required_argument, NULL, 'o'},	  {NULL, 0, NULL, 0},
	};
	const char *ekp = NULL, *namep = NULL, *akp = NULL, *secp = NULL, *outp = NULL;
	struct verr e = {0};
	struct tpm_public ek;
	struct ak_key *ak = NULL;
	TPM2B_ID_OBJECT blob;
	TPM2B_ENCRYPTED_SECRET encsec;
	uint8_t *ekb = NULL, *name = NULL, *akb = NULL, *sec = NULL, out[4096];
	size_t ekn = 0, namen = 0, akn = 0, secn = 0, outn;
	int c, rc = 1;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'e': ekp = optarg; break;
		case 'n': namep = optarg; break;
		case 'a': akp = optarg; break;
		case 's': secp = optarg; break;
		case 'o': outp = optarg; break;
		default: ekp = NULL; break;
		}
	}
	if (ekp == NULL || (namep == NULL && akp == NULL) || secp == NULL || outp == NULL ||
	    optind != argc) {
		fputs("usage: orchard-verify makecredential --ek-pub EK.pub --ak-name AK.name [--ak-pub AK.pub]\n"
		      "                       --secret SECRET.bin --out CRED.out\n",
		      stderr);
		return 2;
	}
	if ((ekb = tool_read_file(ekp, MAX_SMALL, &ekn, &e)) == NULL ||
	    tpm_public_parse(ekb, ekn, &ek, &e) != 0 ||
	    (secp && (sec = tool_read_file(secp, MAX_SMALL, &secn, &e)) == NULL))
		goto out;
	if (namep != NULL && (name = tool_read_file(namep, MAX_SMALL, &namen, &e)) == NULL)
		goto out;
	/* With the AK's public area we check it is a proper AK and use the
	 * Name computed from it, so the credential binds what was checked. */
	if (akp != NULL) {
		if ((akb = tool_read_file(akp, MAX_SMALL, &akn, &e)) == NULL ||
		    (ak = ak_key_new(akb, akn, &e)) == NULL)
			goto out;
		if (name != NULL &&
		    (namen != ak->pub.name_len || memcmp(name, ak->pub.name, namen) != 0)) {
			verr_set(&e, "ak-name-mismatch", "--ak-name is not the Name of --ak-pub");
			goto out;
		}
	}
	if (makecred(&ek.pub, ak ? ak->pub.name : name, ak ? ak->pub.name_len : namen, sec, secn,
		     &blob, &encsec, &e) != 0)
		goto out;
	outn = makecred_write_tpm2tools(&blob, &encsec, out, sizeof(out));
	if (outn == 0) {
		verr_set(&e, "internal", "credential does not fit");
		goto out;
	}
	if (tool_write_file(outp, out, outn, &e) != 0)
		goto out;
	rc = 0;
out:
	if (rc != 0)
		tool_reject("makecredential", &e);
	ak_key_free(ak);
	free(ekb);
	free(name);
	free(akb);
	if (sec != NULL)
		memset(sec, 0, secn);
	free(sec);
	return rc;
}
