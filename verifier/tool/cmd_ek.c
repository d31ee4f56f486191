/* orchard-verify ek (stub while being written). */
#include "verifier/tool/tool.h"
int cmd_ek(int argc, char **argv) { (void)argc; (void)argv; return 2; }
