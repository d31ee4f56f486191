/* orchard-verify makecredential (stub while being written). */
#include "verifier/tool/tool.h"
int cmd_makecredential(int argc, char **argv) { (void)argc; (void)argv; return 2; }
