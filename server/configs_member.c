/* The twin's `configurations` member on the operator's GET, and what keeps
 * it free while a fleet has no configuration: a generation count that every
 * configuration change (any orchardd: EVENTS_TWIN_CONFIGURATION; this one:
 * configs_member_changed()) moves, with "none at generation g" cached, so a
 * GET then runs no statement of its own. */
#include "server/configs_member.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "server/configs.h"
#include "server/server.h"
#include "server/store/events.h"
#include "server/store/store.h"

static atomic_llong generation = 1;
static atomic_llong none_at; /* the generation known to have no configuration; 0: unknown */
static pthread_mutex_t sub_lock = PTHREAD_MUTEX_INITIALIZER;
static struct event_sub sub;
static atomic_bool subscribed;

static void changed_cb(void *cls, const char *payload)
{
	(void)cls;
	(void)payload; /* NULL (reconnected) or an ID: either way look again */
	atomic_fetch_add(&generation, 1);
}

void configs_member_changed(struct server *srv)
{
	(void)srv;
	atomic_fetch_add(&generation, 1);
}

struct member_txn {
	const char *device_id;
	json_t *member;
	size_t n;
};

static enum store_qs member_cb(struct store_conn *c, void *cls)
{
	struct member_txn *m = cls;

	json_decref(m->member);
	return configs_twin_member(c, m->device_id, &m->member, &m->n);
}

int configs_member(struct server *srv, const char *device_id, json_t **out)
{
	struct member_txn m = {.device_id = device_id};
	long long g;

	*out = NULL;
	pthread_mutex_lock(&sub_lock);
	if (!subscribed && srv->events != NULL &&
	    events_subscribe(srv->events, &sub, EVENTS_TWIN_CONFIGURATION, "", changed_cb, NULL) ==
		    0)
		subscribed = true;
	pthread_mutex_unlock(&sub_lock);
	g = atomic_load(&generation);
	if (subscribed && atomic_load(&none_at) == g)
		return 0;
	if (store_run(srv->store, member_cb, &m) < 0) {
		json_decref(m.member);
		return -1;
	}
	if (m.n == 0 && subscribed)
		atomic_store(&none_at, g); /* a change since g moved generation past it */
	*out = m.member;
	return 0;
}
