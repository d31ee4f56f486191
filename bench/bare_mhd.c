/* The ceiling for orchardd's HTTP path: a bare libmicrohttpd TLS server with
 * the same flags, thread pool and certificate, answering a static body. */
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *d = calloc(1, 1 << 16);
	if (f == NULL || d == NULL || fread(d, 1, (1 << 16) - 1, f) == 0)
		exit(1);
	fclose(f);
	return d;
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *data,
			      size_t *size, void **req_cls)
{
	static const char body[] = "{\"status\":\"ok\"}";
	(void)cls, (void)url, (void)method, (void)version, (void)data, (void)size;
	if (*req_cls == NULL) { /* queueing on the first call would disable keep-alive */
		*req_cls = (void *)1;
		return MHD_YES;
	}
	struct MHD_Response *r = MHD_create_response_from_buffer(sizeof body - 1, (void *)body,
								 MHD_RESPMEM_PERSISTENT);
	MHD_add_response_header(r, "Content-Type", "application/json");
	enum MHD_Result ret = MHD_queue_response(c, 200, r);
	MHD_destroy_response(r);
	return ret;
}

int main(int argc, char **argv)
{
	if (argc != 5)
		return 2; /* usage: bare_mhd PORT THREADS CERT KEY */
	struct MHD_Daemon *d =
		MHD_start_daemon(MHD_USE_TLS | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL,
				 (uint16_t)strtol(argv[1], NULL, 10), NULL, NULL, answer, NULL,
				 MHD_OPTION_THREAD_POOL_SIZE, (unsigned)strtol(argv[2], NULL, 10),
				 MHD_OPTION_HTTPS_MEM_CERT, slurp(argv[3]),
				 MHD_OPTION_HTTPS_MEM_KEY, slurp(argv[4]), MHD_OPTION_END);
	if (d == NULL)
		return 1;
	pause();
	return 0;
}
