/* POST /devices/query: the IoT Hub twin query language over the twins
 * table. Parse the body and the paging headers, compile the query
 * (server/twinq.c), run one page in device ID order, reply with a JSON
 * array and, when more rows remain, an x-ms-continuation token. Strongly
 * consistent: the query reads the table a write has committed to. */
#include <openssl/sha.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "common/hex.h"
#include "server/handlers.h"
#include "server/reply.h"
#include "server/request.h"
#include "server/server.h"
#include "server/spec.h"
#include "server/store/twin_query.h"
#include "server/twins.h"
#include "server/twinq.h"

#define PAGE_DEFAULT 100
#define PAGE_MAX 1000
#define GROUPS_MAX 10000 /* group rows are served in one page */

/* Where the next page starts: after a device ID (and, with ORDER BY, the
 * sort key of its row, jsonb text, NULL when undefined), with what is left
 * of TOP (-1: no TOP), for the query whose hash it carries. */
struct cursor {
	char after[160];
	char *key;
	long long left;
	char hash[17];
};

#define CURSOR_TOKEN_MAX (16 * 1024) /* a sort key may be a whole section */

static void query_hash(const char *text, char out[17])
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	SHA256((const unsigned char *)text, strlen(text), md);
	hex_encode(md, 8, out);
	out[16] = '\0';
}

static char *cursor_encode(const struct cursor *c)
{
	json_t *j =
		json_pack("{s:s, s:I, s:s}", "a", c->after, "l", (json_int_t)c->left, "h", c->hash);
	char *text;

	if (j != NULL && c->key != NULL && json_object_set_new(j, "k", json_string(c->key)) != 0) {
		json_decref(j);
		j = NULL;
	}
	text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	char *tok = text ? b64_encode((const uint8_t *)text, strlen(text), 1) : NULL;

	json_decref(j);
	free(text);
	return tok;
}

/* 0 when tok is a token this query issued; the fields go into *c. */
static int cursor_decode(const char *tok, const char *hash, struct cursor *c)
{
	size_t n = 0;
	uint8_t *raw = strlen(tok) <= CURSOR_TOKEN_MAX ? b64_decode(tok, strlen(tok), 1, &n) : NULL;
	json_t *j = raw ? json_loadb((const char *)raw, n, 0, NULL) : NULL;
	const char *after = NULL, *h = NULL, *key = NULL;
	json_int_t left = 0;
	int rc = -1;

	if (j != NULL &&
	    json_unpack(j, "{s:s, s:I, s:s, s?s}", "a", &after, "l", &left, "h", &h, "k", &key) ==
		    0 &&
	    strlen(after) >= 1 && strlen(after) <= 128 && left >= -1 && strcmp(h, hash) == 0 &&
	    (key == NULL || (c->key = strdup(key)) != NULL)) {
		snprintf(c->after, sizeof c->after, "%s", after);
		c->left = left;
		rc = 0;
	}
	json_decref(j);
	free(raw);
	return rc;
}

struct query_run {
	const struct twinq *q;
	const struct store_twin_after *after;
	long long limit;
	struct store_twin_page page;
};

static enum store_qs query_cb(struct store_conn *c, void *cls)
{
	struct query_run *r = cls;

	store_twin_page_free(&r->page);
	return store_select_twin_query(c, r->q, r->after, r->limit, &r->page);
}

/* Row i of the page as IoT Hub serves it (new reference, NULL on OOM). */
static json_t *row_json(const struct twinq *q, const struct store_twin_page *pg, size_t i)
{
	json_t *o;
	size_t skip = q->kind == TWINQ_PROJECT ? 1 : 0;

	if (q->kind == TWINQ_TWINS)
		return twin_render(&pg->twins[i]);
	if ((o = json_object()) == NULL)
		return NULL;
	for (size_t c = 0; c < q->ncols; c++) {
		const char *cell = pg->cells[i * pg->ncols + c + skip];
		json_t *v;

		if (cell == NULL)
			continue; /* undefined: left out, as IoT Hub does */
		if (q->cols[c].is_count)
			v = json_integer(strtoll(cell, NULL, 10));
		else
			v = json_loads(cell, JSON_DECODE_ANY, NULL);
		if (v == NULL || json_object_set_new(o, q->cols[c].name, v) != 0) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

static int page_size(struct request *req, long long *out)
{
	const char *v = request_header(req, "x-ms-max-item-count");
	char *end;

	*out = PAGE_DEFAULT;
	if (v == NULL)
		return 0;
	errno = 0;
	*out = strtoll(v, &end, 10);
	return errno == 0 && end != v && *end == '\0' && *out >= 1 && *out <= PAGE_MAX ? 0 : -1;
}

static int reply_page(struct request *req, json_t *rows, const char *continuation)
{
	char *text = rows ? json_dumps(rows, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	struct MHD_Response *resp;
	enum MHD_Result ret;

	json_decref(rows);
	if (text == NULL)
		return reply_problem(req, ERR_INTERNAL, "cannot render the result");
	if ((resp = reply_response_owning(text, strlen(text))) == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	if (continuation != NULL)
		MHD_add_response_header(resp, "x-ms-continuation", continuation);
	ret = reply_queue(req, 200, resp);
	MHD_destroy_response(resp);
	return ret;
}

int h_twins_query(struct request *req)
{
	const char *text = NULL, *tok;
	struct json_spec spec[] = {
		json_spec_string("query", &text, 64 * 1024, 0),
		json_spec_end(),
	};
	struct twinq q;
	struct twinq_error e;
	struct cursor cur = {.left = -1};
	struct query_run r = {.q = &q};
	struct store_twin_after after;
	long long page;
	enum spec_status st;
	enum store_qs qs;
	json_t *rows = NULL;
	char *next = NULL;
	bool more = false;
	int ret;

	if ((st = spec_parse_body(req, spec)) != SPEC_OK)
		return SPEC_HANDLER_RESULT(st);
	if (page_size(req, &page) != 0)
		return reply_problem(req, ERR_TWIN_QUERY_PAGE_SIZE, NULL);
	if (twinq_compile(text, &q, &e) != 0)
		return reply_problem_ext(__FILE__, __LINE__, req,
					 e.too_complex ? ERR_TWIN_QUERY_LIMIT
						       : ERR_TWIN_QUERY_SYNTAX,
					 json_pack("{s:I}", "position", (json_int_t)e.pos), e.msg);
	query_hash(text, cur.hash);
	cur.left = q.top;
	if ((tok = request_header(req, "x-ms-continuation")) != NULL && *tok != '\0') {
		if (q.kind == TWINQ_AGGREGATE || cursor_decode(tok, cur.hash, &cur) != 0) {
			twinq_free(&q);
			return reply_problem(req, ERR_TWIN_QUERY_CONTINUATION, NULL);
		}
		after = (struct store_twin_after){cur.after, cur.key};
		r.after = &after;
	}
	if (q.kind != TWINQ_AGGREGATE && cur.left == 0) {
		free(cur.key);
		twinq_free(&q);
		return reply_page(req, json_array(), NULL);
	}
	if (q.kind == TWINQ_AGGREGATE)
		r.limit = q.top >= 0 && q.top < GROUPS_MAX ? q.top : GROUPS_MAX;
	else
		r.limit = (cur.left >= 0 && cur.left < page ? cur.left : page) + 1;
	qs = store_run(req->srv->store, query_cb, &r);
	if (qs < 0) {
		free(cur.key);
		twinq_free(&q);
		return reply_problem(req, ERR_DB_UNAVAILABLE, NULL);
	}
	if (q.kind != TWINQ_AGGREGATE && r.page.n == (size_t)r.limit) {
		more = cur.left < 0 || cur.left > r.limit - 1;
		r.page.n--; /* the extra row only said there is more */
		if (r.page.keys != NULL) {
			free(r.page.keys[r.page.n]);
			r.page.keys[r.page.n] = NULL;
		}
		if (q.kind == TWINQ_TWINS)
			store_twin_free(&r.page.twins[r.page.n]);
		else
			for (size_t c = 0; c < r.page.ncols; c++) {
				free(r.page.cells[r.page.n * r.page.ncols + c]);
				r.page.cells[r.page.n * r.page.ncols + c] = NULL;
			}
	}
	rows = json_array();
	for (size_t i = 0; i < r.page.n && rows; i++)
		if (json_array_append_new(rows, row_json(&q, &r.page, i)) != 0) {
			json_decref(rows);
			rows = NULL;
		}
	if (more && rows) {
		const char *last = q.kind == TWINQ_TWINS
					   ? r.page.twins[r.page.n - 1].device_id
					   : r.page.cells[(r.page.n - 1) * r.page.ncols];

		snprintf(cur.after, sizeof cur.after, "%s", last);
		free(cur.key);
		cur.key = NULL;
		if (q.order_sql != NULL && r.page.keys[r.page.n - 1] != NULL &&
		    (cur.key = strdup(r.page.keys[r.page.n - 1])) == NULL) {
			json_decref(rows);
			rows = NULL;
		}
		if (cur.left >= 0)
			cur.left -= (long long)r.page.n;
		if (rows != NULL && (next = cursor_encode(&cur)) == NULL) {
			json_decref(rows);
			rows = NULL;
		}
	}
	ret = reply_page(req, rows, next);
	free(next);
	free(cur.key);
	store_twin_page_free(&r.page);
	twinq_free(&q);
	return ret;
}
