/* The depot, device side (docs/depot.md): a registered device, with its
 * own credential (IoT Hub device SAS or X.509 client certificate), reads
 * a package's signed manifest at GET /depot/{publisher}/pkg/{name}/{version}
 * and its module at .../module: ETag the module digest, If-None-Match
 * (304), one Range (206; 416 otherwise). A yanked version stays
 * downloadable: a device that runs it must be able to fetch it again.
 * The compiled forms (server/depot_compile.c) are served the same way at
 * .../compiled/{target}, with their signed statement at .../statement.
 * Large ones are streamed from PostgreSQL in bounded chunks. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "depot/depot.h"
#include "server/depot.h"
#include "server/handlers.h"
#include "server/reply.h"
#include "server/request.h"
#include "server/server.h"
#include "server/store/depot.h"
#include "server/store/depot_compiled.h"

/* Bytes above this are streamed: the response reads them from
 * PostgreSQL one chunk at a time as libmicrohttpd sends them, so a
 * download holds at most one chunk in memory whatever the module's size
 * (measured in docs/depot.md). Smaller ones are read in one query. */
#define DEPOT_STREAM_CHUNK ((uint64_t)256 << 10)
#define DEPOT_STREAM_BLOCK (32 << 10) /* libmicrohttpd's buffer for the response */

struct download_op {
	const char *publisher, *name, *version;
	const char *target; /* a compiled form's, not the module's (NULL) */
	bool want_bytes;    /* read the module's bytes too */
	bool has_range;	    /* ... only [start, start + len) of them */
	const char *range;  /* the Range header */
	bool unsatisfiable;
	uint64_t start, len;
	struct store_depot_package row;
	struct store_depot_compiled compiled; /* with target: its record */
	bool no_compiled;		      /* ... and there is none ready */
	uint64_t size;			      /* the bytes' size: module or compiled form */
	uint8_t *data;
	size_t got;
};

static enum store_qs download_cb(struct store_conn *c, void *cls)
{
	struct download_op *o = cls;
	enum store_qs qs;

	store_depot_package_free(&o->row);
	free(o->data);
	o->data = NULL;
	store_depot_compiled_free(&o->compiled);
	o->no_compiled = false;
	qs = store_select_depot_package(c, o->publisher, o->name, o->version, &o->row);
	o->size = (uint64_t)o->row.size;
	if (qs > 0 && o->target != NULL) {
		enum store_qs cq = store_select_depot_compiled(c, o->row.module_sha256, o->target,
							       &o->compiled);

		if (cq < 0)
			return cq;
		o->no_compiled = cq == STORE_NONE || strcmp(o->compiled.state, "ready") != 0;
		if (o->no_compiled)
			return qs;
		o->size = (uint64_t)o->compiled.size;
	}
	if (qs <= 0 || !o->want_bytes)
		return qs;
	o->start = 0;
	o->len = o->size;
	if (o->range != NULL && depot_range_parse(o->range, o->size, &o->start, &o->len) != 0) {
		o->unsatisfiable = true;
		return qs;
	}
	if (o->len > DEPOT_STREAM_CHUNK)
		return qs; /* streamed: stream_read reads it chunk by chunk */
	if (o->target != NULL)
		qs = store_select_depot_compiled_data(c, o->row.module_sha256, o->target, o->start,
						      o->len, &o->data, &o->got);
	else
		qs = store_select_depot_module(c, o->row.module_sha256, o->start, o->len, &o->data,
					       &o->got);
	if (qs == STORE_NONE)
		return STORE_HARD; /* a package without its module: the foreign key forbids it */
	return qs;
}

static void download_free(struct download_op *o)
{
	store_depot_package_free(&o->row);
	store_depot_compiled_free(&o->compiled);
	free(o->data);
	o->data = NULL;
}

/* Runs the lookup; 0 with o->row filled, or a reply queued into *ret. */
static int download_load(struct request *req, struct download_op *o, int *ret)
{
	enum store_qs qs;

	if (!depot_publisher_ok(o->publisher) || !depot_name_ok(o->name) ||
	    !depot_version_ok(o->version)) {
		*ret = reply_problem(req, ERR_DEPOT_BAD_NAME, NULL);
		return -1;
	}
	if (o->target != NULL && !depot_target_ok(o->target)) {
		*ret = reply_problem(req, ERR_DEPOT_BAD_TARGET, NULL);
		return -1;
	}
	qs = store_run(req->srv->store, download_cb, o);
	if (qs < 0) {
		*ret = reply_problem(req, ERR_DB_UNAVAILABLE, NULL);
		return -1;
	}
	if (qs == STORE_NONE) {
		*ret = reply_problem(req, ERR_DEPOT_PACKAGE_NOT_FOUND, "%s/pkg/%s/%s", o->publisher,
				     o->name, o->version);
		return -1;
	}
	if (o->no_compiled) {
		*ret = reply_problem(req, ERR_DEPOT_COMPILED_NOT_FOUND, "%s for %s",
				     o->compiled.state ? o->compiled.state : "none", o->target);
		download_free(o);
		return -1;
	}
	return 0;
}

int h_depot_device_manifest(struct request *req)
{
	struct download_op o = {
		.publisher = req->params[0], .name = req->params[1], .version = req->params[2]};
	json_t *manifest, *j;
	char module[7 + 65], ref[3 * DEPOT_NAME_MAX + 8];
	int ret;

	if (download_load(req, &o, &ret) != 0)
		return ret;
	manifest = json_loads(o.row.manifest, 0, NULL);
	snprintf(module, sizeof module, "sha256:%s", o.row.module_sha256);
	snprintf(ref, sizeof ref, "%s/pkg/%s/%s", o.row.publisher, o.row.name, o.row.version);
	/* The manifest's canonical form (depot_canonical) is the signed text. */
	j = json_pack("{s:s, s:o, s:s, s:s, s:s, s:I, s:b}", "package", ref, "manifest", manifest,
		      "signature", o.row.signature, "keyId", o.row.key_id, "module", module, "size",
		      (json_int_t)o.row.size, "yanked", o.row.yanked);
	download_free(&o);
	if (j == NULL)
		return reply_problem(req, ERR_INTERNAL, "out of memory");
	return reply_json_steal(req, 200, j);
}

/* A bodyless 304 with its headers. */
static int reply_not_modified(struct request *req, const char *etag)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	int ret;

	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
	ret = reply_queue(req, 304, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* A streamed download: [start, start + len) of the module or compiled
 * form named by digest (and target), read chunk by chunk on a pooled
 * connection; chunk holds [chunk_off, chunk_off + chunk_len). */
struct stream {
	struct store *store;
	char module[65];
	char target[DEPOT_TARGET_MAX + 1]; /* "": the module */
	uint64_t start, len;
	uint64_t chunk_off;
	size_t chunk_len;
	uint8_t *chunk;
	uint64_t want; /* the chunk the next query reads */
};

static enum store_qs stream_cb(struct store_conn *c, void *cls)
{
	struct stream *s = cls;
	uint64_t n = s->start + s->len - s->want;

	free(s->chunk);
	s->chunk = NULL;
	s->chunk_len = 0;
	if (n > DEPOT_STREAM_CHUNK)
		n = DEPOT_STREAM_CHUNK;
	if (s->target[0] != '\0')
		return store_select_depot_compiled_data(c, s->module, s->target, s->want, n,
							&s->chunk, &s->chunk_len);
	return store_select_depot_module(c, s->module, s->want, n, &s->chunk, &s->chunk_len);
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream *s = cls;
	uint64_t at = s->start + pos;

	if (pos >= s->len)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (s->chunk == NULL || at < s->chunk_off || at >= s->chunk_off + s->chunk_len) {
		s->want = at;
		if (store_run(s->store, stream_cb, s) != STORE_ONE || s->chunk_len == 0) {
			log_kv(LOG_WARN, "depot: a streamed download failed", "module", s->module,
			       NULL);
			return MHD_CONTENT_READER_END_WITH_ERROR;
		}
		s->chunk_off = at;
	}
	size_t n = (size_t)(s->chunk_off + s->chunk_len - at);
	if (n > max)
		n = max;
	memcpy(buf, s->chunk + (at - s->chunk_off), n);
	return (ssize_t)n;
}

static void stream_free(void *cls)
{
	struct stream *s = cls;

	free(s->chunk);
	free(s);
}

/* The response for o's bytes: in memory when read, else streamed. */
static struct MHD_Response *download_response(struct request *req, struct download_op *o)
{
	struct MHD_Response *resp;
	struct stream *s;

	if (o->len <= DEPOT_STREAM_CHUNK) {
		resp = MHD_create_response_from_buffer(o->got, o->data, MHD_RESPMEM_MUST_FREE);
		if (resp != NULL)
			o->data = NULL; /* the response owns it */
		return resp;
	}
	if ((s = calloc(1, sizeof *s)) == NULL)
		return NULL;
	s->store = req->srv->store;
	snprintf(s->module, sizeof s->module, "%s", o->row.module_sha256);
	snprintf(s->target, sizeof s->target, "%s", o->target ? o->target : "");
	s->start = o->start;
	s->len = o->len;
	resp = MHD_create_response_from_callback(o->len, DEPOT_STREAM_BLOCK, stream_read, s,
						 stream_free);
	if (resp == NULL)
		free(s);
	return resp;
}

/* The module, or with o->target its compiled form: ETag its digest. */
static int download_bytes(struct request *req, struct download_op *op)
{
	struct download_op o = *op;
	struct MHD_Response *resp;
	char etag[7 + 64 + 3], crange[80];
	int ret;

	o.range = request_header(req, MHD_HTTP_HEADER_RANGE);
	/* Modules are immutable: a matching ETag needs no bytes. Look the
	 * package up first anyway, so a 304 never answers for a package
	 * that does not exist. */
	o.want_bytes = request_header(req, MHD_HTTP_HEADER_IF_NONE_MATCH) == NULL;
	if (download_load(req, &o, &ret) != 0)
		return ret;
	snprintf(etag, sizeof etag, "\"sha256:%s\"",
		 o.target ? o.compiled.cwasm_sha256 : o.row.module_sha256);
	if (depot_etag_match(request_header(req, MHD_HTTP_HEADER_IF_NONE_MATCH), etag)) {
		download_free(&o);
		return reply_not_modified(req, etag);
	}
	if (!o.want_bytes) { /* If-None-Match named another version: read the bytes now */
		o.want_bytes = true;
		download_free(&o);
		if (download_load(req, &o, &ret) != 0)
			return ret;
	}
	if (o.unsatisfiable) {
		snprintf(crange, sizeof crange, "bytes */%" PRIu64, o.size);
		download_free(&o);
		req->problem_content_range = crange;
		ret = reply_problem(req, ERR_DEPOT_RANGE, "it has %s bytes", crange + 8);
		req->problem_content_range = NULL;
		return ret;
	}
	resp = download_response(req, &o);
	if (resp == NULL) {
		download_free(&o);
		return reply_problem(req, ERR_INTERNAL, "out of memory");
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				o.target ? "application/vnd.orchard.cwasm" : "application/wasm");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
				"private, max-age=31536000, immutable");
	if (o.range != NULL) {
		snprintf(crange, sizeof crange, "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, o.start,
			 o.start + o.len - 1, o.size);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, crange);
	}
	ret = reply_queue(req, o.range != NULL ? 206 : 200, resp);
	MHD_destroy_response(resp);
	download_free(&o);
	return ret;
}

int h_depot_device_module(struct request *req)
{
	struct download_op o = {
		.publisher = req->params[0], .name = req->params[1], .version = req->params[2]};

	return download_bytes(req, &o);
}

int h_depot_device_compiled(struct request *req)
{
	struct download_op o = {.publisher = req->params[0],
				.name = req->params[1],
				.version = req->params[2],
				.target = req->params[3]};

	return download_bytes(req, &o);
}

/* The signed statement binding module, target, compiler and the compiled
 * form's digest: verify it with the depot key (GET /depot/key). */
int h_depot_device_compiled_statement(struct request *req)
{
	struct download_op o = {.publisher = req->params[0],
				.name = req->params[1],
				.version = req->params[2],
				.target = req->params[3]};
	char cwasm[7 + 65];
	json_t *j;
	int ret;

	if (download_load(req, &o, &ret) != 0)
		return ret;
	snprintf(cwasm, sizeof cwasm, "sha256:%s", o.compiled.cwasm_sha256);
	j = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:o}", "statement", o.compiled.statement,
		      "signature", o.compiled.signature, "keyId", o.compiled.key_id, "target",
		      o.compiled.target, "size", (json_int_t)o.compiled.size, "cwasm", cwasm,
		      "compiler", json_string(o.compiled.compiler));
	download_free(&o);
	if (j == NULL)
		return reply_problem(req, ERR_INTERNAL, "out of memory");
	return reply_json_steal(req, 200, j);
}
