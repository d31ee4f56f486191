/* orchard-verify ek: an EK certificate chains to the manufacturer roots in
 * a folder, and (optionally) the EK public area is the certificate's key. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "verifier/ek_cert.h"
#include "verifier/tool/tool.h"
#include "verifier/tpm_public.h"

#define MAX_SMALL (64 * 1024)

int cmd_ek(int argc, char **argv)
{
	static const struct option opts[] = {
		{"cert", required_argument, NULL, 'c'},
		{"roots", required_argument, NULL, 'r'},
		{"ek-pub", required_argument, NULL, 'e'},
		{"at", required_argument, NULL, 't'},
		{NULL, 0, NULL, 0},
	};
	const char *certp = NULL, *rootsp = NULL, *ekp = NULL;
	long long at = 0;
	char *end, regid[64];
	struct verr e = {0};
	struct ek_roots *roots = NULL;
	struct tpm_public ek;
	X509 *cert = NULL;
	uint8_t *cb = NULL, *ekb = NULL;
	size_t cn = 0, ekn = 0;
	int c, rc = 1, bad = 0;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c': certp = optarg; break;
		case 'r': rootsp = optarg; break;
		case 'e': ekp = optarg; break;
		case 't':
			errno = 0;
			at = strtoll(optarg, &end, 10);
			bad |= errno != 0 || *end != '\0' || at <= 0;
			break;
		default: bad = 1; break;
		}
	}
	if (bad || certp == NULL || rootsp == NULL || optind != argc) {
		fputs("usage: orchard-verify ek --cert EK.der|EK.pem --roots DIR [--ek-pub EK.pub] [--at UNIXTIME]\n",
		      stderr);
		return 2;
	}
	if ((cb = tool_read_file(certp, MAX_SMALL, &cn, &e)) == NULL ||
	    (cert = ek_cert_parse(cb, cn, &e)) == NULL ||
	    (roots = ek_roots_load_dir(rootsp, &e)) == NULL ||
	    ek_cert_verify(roots, cert, at, &e) != 0)
		goto out;
	if (ekp != NULL) {
		if ((ekb = tool_read_file(ekp, MAX_SMALL, &ekn, &e)) == NULL ||
		    tpm_public_parse(ekb, ekn, &ek, &e) != 0 ||
		    ek_cert_match_public(cert, &ek.pub, &e) != 0)
			goto out;
		if (ek_registration_id(ekb, ekn, regid, sizeof(regid)) == 0)
			printf("registration-id: %s\n", regid);
	}
	fprintf(stderr, "orchard-verify: EK certificate accepted\n");
	rc = 0;
out:
	if (rc != 0)
		tool_reject("ek", &e);
	ek_roots_free(roots);
	X509_free(cert);
	free(cb);
	free(ekb);
	return rc;
}
