/* agent_escape.c: an app for tests/integration/agent.sh that tries what its
 * grants do not give: "open PATH" opens a file outside its folders. A
 * refusal (the runtime's) exits 3; "ESCAPED" and 0 would mean a hole. */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc > 2 && !strcmp(argv[1], "open")) {
		FILE *f = fopen(argv[2], "r");
		if (!f) {
			perror(argv[2]);
			return 3;
		}
		fclose(f);
		puts("ESCAPED");
		return 0;
	}
	return 2;
}
