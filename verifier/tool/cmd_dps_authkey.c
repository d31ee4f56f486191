/* orchard-verify dps-authkey: builds the Azure DPS TPM authenticationKey
 * blob for a device's EK and SRK, so the flow can be tried by hand. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verifier/dps_authkey.h"
#include "verifier/tool/tool.h"

int cmd_dps_authkey(int argc, char **argv)
{
	static const struct option opts[] = {
		{"ek-pub", required_argument, NULL, 'e'},
		{"srk-pub", required_argument, NULL, 's'},
		{"key", required_argument, NULL, 'k'},
		{"out", required_argument, NULL, 'o'},
		{NULL, 0, NULL, 0},
	};
	const char *ekp = NULL, *srkp = NULL, *kp = NULL, *outp = NULL;
	struct verr e = {0};
	struct tpm_public ek, srk;
	uint8_t *ekb = NULL, *srkb = NULL, *kb = NULL, out[DPS_AUTHKEY_MAX];
	size_t ekn = 0, srkn = 0, kn = 0, outn = 0;
	int c, rc = 1;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'e': ekp = optarg; break;
		case 's': srkp = optarg; break;
		case 'k': kp = optarg; break;
		case 'o': outp = optarg; break;
		default: ekp = NULL; break;
		}
	}
	if (ekp == NULL || srkp == NULL || kp == NULL || outp == NULL || optind != argc) {
		fputs("usage: orchard-verify dps-authkey --ek-pub EK.pub --srk-pub SRK.pub --key K.bin --out BLOB\n",
		      stderr);
		return 2;
	}
	if ((ekb = tool_read_file(ekp, 65536, &ekn, &e)) == NULL ||
	    tpm_public_parse(ekb, ekn, &ek, &e) != 0 ||
	    (srkb = tool_read_file(srkp, 65536, &srkn, &e)) == NULL ||
	    tpm_public_parse(srkb, srkn, &srk, &e) != 0 ||
	    (kb = tool_read_file(kp, 4096, &kn, &e)) == NULL ||
	    dps_authkey_build(&ek, &srk, kb, kn, out, sizeof(out), &outn, &e) != 0 ||
	    tool_write_file(outp, out, outn, &e) != 0)
		goto out;
	rc = 0;
out:
	if (rc != 0)
		tool_reject("dps-authkey", &e);
	if (kb != NULL)
		memset(kb, 0, kn);
	free(ekb);
	free(srkb);
	free(kb);
	return rc;
}
