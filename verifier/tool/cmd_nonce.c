/* orchard-verify nonce: issues a fresh nonce into a directory store and
 * prints it in hex, for `tpm2_quote -q` and a later `quote --nonce-store`. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "common/hex.h"
#include "verifier/nonce_store.h"
#include "verifier/tool/tool.h"

int cmd_nonce(int argc, char **argv)
{
	static const struct option opts[] = {
		{"store", required_argument, NULL, 's'},
		{"ttl", required_argument, NULL, 't'},
		{"bytes", required_argument, NULL, 'b'},
		{NULL, 0, NULL, 0},
	};
	const char *dir = NULL;
	long ttl = 300, bytes = 32;
	struct nonce_store *st = NULL;
	struct verr e = {0};
	uint8_t nonce[NONCE_MAX];
	char hex[2 * NONCE_MAX + 1];
	char *end;
	int c, rc = 1;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's': dir = optarg; break;
		case 't':
			ttl = strtol(optarg, &end, 10);
			if (*end != '\0' || ttl < 0)
				dir = NULL, optind = argc + 1;
			break;
		case 'b':
			bytes = strtol(optarg, &end, 10);
			if (*end != '\0' || bytes < 8 || bytes > NONCE_MAX)
				dir = NULL, optind = argc + 1;
			break;
		default: dir = NULL; break;
		}
	}
	if (dir == NULL) {
		fputs("orchard-verify nonce --store DIR [--ttl SECONDS] [--bytes 8-64]\n", stderr);
		return 2;
	}
	st = nonce_store_dir_new(dir);
	if (st == NULL) {
		verr_set(&e, "internal", "out of memory");
		goto out;
	}
	if (nonce_store_issue(st, nonce, (size_t)bytes, (int64_t)time(NULL), ttl, &e) != 0)
		goto out;
	hex_encode(nonce, (size_t)bytes, hex);
	printf("%s\n", hex);
	rc = 0;
out:
	nonce_store_free(st);
	return rc == 0 ? 0 : tool_reject("nonce", &e);
}
