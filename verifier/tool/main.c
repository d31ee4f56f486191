/* orchard-verify: check TPM evidence written by tpm2-tools by hand, in the
 * spirit of tpm2_checkquote. Exit 0 means accepted; anything else rejected. */
#include <stdio.h>
#include <string.h>

#include "verifier/tool/tool.h"

static int usage(void)
{
	fputs("usage:\n"
	      "  orchard-verify quote --ak AK.pub --msg QUOTE.msg --sig QUOTE.sig --pcrs QUOTE.pcrs\n"
	      "                       --nonce HEX [--nonce-store DIR] [--policy POLICY.json]\n"
	      "                       [--eventlog LOG.bin] [--ek-pub EK.pub] [--prev PREV.msg]\n"
	      "                       [--jwt-key KEY.pem --device-id ID]\n"
	      "  orchard-verify ek --cert EK.der|EK.pem --roots DIR [--ek-pub EK.pub] [--at UNIXTIME]\n"
	      "  orchard-verify makecredential --ek-pub EK.pub --ak-name AK.name --secret SECRET.bin\n"
	      "                       --out CRED.out\n"
	      "  orchard-verify nonce --store DIR [--ttl SECONDS] [--bytes N]\n"
	      "  orchard-verify dps-authkey --ek-pub EK.pub --srk-pub SRK.pub --key K.bin --out BLOB\n",
	      stderr);
	return 2;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	if (strcmp(argv[1], "quote") == 0)
		return cmd_quote(argc - 1, argv + 1);
	if (strcmp(argv[1], "ek") == 0)
		return cmd_ek(argc - 1, argv + 1);
	if (strcmp(argv[1], "makecredential") == 0)
		return cmd_makecredential(argc - 1, argv + 1);
	if (strcmp(argv[1], "nonce") == 0)
		return cmd_nonce(argc - 1, argv + 1);
	if (strcmp(argv[1], "dps-authkey") == 0)
		return cmd_dps_authkey(argc - 1, argv + 1);
	return usage();
}
