/* Unit tests for DPS allocation: what enrollments may say
 * (allocationPolicy, iotHubs, customAllocationDefinition,
 * reprovisionPolicy), and hashed allocation's spread, weights and
 * stability. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/dps_alloc.h"

#define LINKED "hub-a,hub-b=3,hub-c"

/* Parses body (JSON text); returns why not, or NULL with *text set. */
static const char *parse(const char *body, char **text)
{
	static char why[300];
	json_t *b = json_loads(body, 0, NULL);
	const char *w;

	assert_non_null(b);
	w = dps_alloc_parse(b, LINKED, text, why, sizeof why);
	json_decref(b);
	return w;
}

static void refusals(void **state)
{
	const char *bad[] = {
		"{\"allocationPolicy\":\"geoLatency\"}",
		"{\"allocationPolicy\":7}",
		"{\"allocationPolicy\":\"static\"}",
		"{\"allocationPolicy\":\"static\",\"iotHubs\":[\"hub-a\",\"hub-c\"]}",
		"{\"allocationPolicy\":\"custom\"}",
		"{\"allocationPolicy\":\"custom\",\"customAllocationDefinition\":"
		"{\"webhookUrl\":\"file:///etc/passwd\",\"apiVersion\":\"2021-10-01\"}}",
		"{\"allocationPolicy\":\"custom\",\"customAllocationDefinition\":"
		"{\"webhookUrl\":\"http://a b/\",\"apiVersion\":\"2021-10-01\"}}",
		"{\"allocationPolicy\":\"custom\",\"customAllocationDefinition\":"
		"{\"webhookUrl\":\"http://x/\"}}",
		"{\"iotHubs\":[]}",
		"{\"iotHubs\":[\"hub-z\"]}",
		"{\"iotHubs\":[\"hub a\"]}",
		"{\"iotHubs\":\"hub-a\"}",
		"{\"reprovisionPolicy\":{\"migrateDeviceData\":1}}",
		"{\"reprovisionPolicy\":[]}",
	};
	char *text;

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		text = (char *)"unset";
		assert_non_null(parse(bad[i], &text));
		assert_null(text);
	}
}

static void accepted_and_loaded(void **state)
{
	char *text = NULL;
	struct dps_alloc a;

	(void)state;
	assert_null(parse("{}", &text));
	assert_null(text); /* nothing to store: the defaults */
	assert_int_equal(dps_alloc_load(NULL, &a), 0);
	assert_string_equal(a.policy, "hashed");
	assert_true(a.update_hub && a.migrate_data);
	dps_alloc_free(&a);

	assert_null(parse("{\"allocationPolicy\":\"custom\",\"customAllocationDefinition\":"
			  "{\"webhookUrl\":\"https://h/x\",\"apiVersion\":\"2021-10-01\"},"
			  "\"reprovisionPolicy\":{\"updateHubAssignment\":false}}",
			  &text));
	assert_int_equal(dps_alloc_load(text, &a), 0);
	assert_string_equal(a.policy, "custom");
	assert_string_equal(a.webhook_url, "https://h/x");
	assert_false(a.update_hub);
	assert_true(a.migrate_data);
	dps_alloc_free(&a);
	free(text);
}

/* How many of n devices each of the candidate hubs gets. */
static void spread(const char *alloc_text, int n, int counts[3])
{
	const char *hubs[] = {"hub-a", "hub-b", "hub-c"};
	struct dps_alloc a;
	char id[32], hub[64];

	memset(counts, 0, 3 * sizeof *counts);
	assert_int_equal(dps_alloc_load(alloc_text, &a), 0);
	for (int i = 0; i < n; i++) {
		snprintf(id, sizeof id, "dev-%d", i);
		assert_int_equal(dps_alloc_pick(&a, LINKED, "fallback", id, hub, sizeof hub), 0);
		for (int h = 0; h < 3; h++)
			if (strcmp(hub, hubs[h]) == 0)
				counts[h]++;
	}
	dps_alloc_free(&a);
}

static void hashed_weighted_and_stable(void **state)
{
	int c[3], c2[3];
	struct dps_alloc a;
	char h1[64], h2[64];

	(void)state;
	spread(NULL, 5000, c);
	assert_int_equal(c[0] + c[1] + c[2], 5000);
	/* Weights 1:3:1 -> 1000, 3000, 1000, give or take. */
	assert_in_range(c[0], 850, 1150);
	assert_in_range(c[1], 2800, 3200);
	assert_in_range(c[2], 850, 1150);
	spread(NULL, 5000, c2);
	assert_memory_equal(c, c2, sizeof c);
	/* Stable: the same device, the same hub. */
	assert_int_equal(dps_alloc_load(NULL, &a), 0);
	assert_int_equal(dps_alloc_pick(&a, LINKED, NULL, "dev-x", h1, sizeof h1), 0);
	assert_int_equal(dps_alloc_pick(&a, LINKED, NULL, "dev-x", h2, sizeof h2), 0);
	assert_string_equal(h1, h2);
	/* Without linked hubs: the fallback. */
	assert_int_equal(dps_alloc_pick(&a, NULL, "only.example", "dev-x", h1, sizeof h1), 0);
	assert_string_equal(h1, "only.example");
	assert_int_equal(dps_alloc_pick(&a, NULL, NULL, "dev-x", h1, sizeof h1), -1);
	dps_alloc_free(&a);
	/* iotHubs narrows the candidates. */
	spread("{\"iotHubs\":[\"hub-a\",\"hub-c\"]}", 1000, c);
	assert_int_equal(c[1], 0);
	assert_true(c[0] > 300 && c[2] > 300);
	spread("{\"allocationPolicy\":\"static\",\"iotHubs\":[\"hub-c\"]}", 100, c);
	assert_int_equal(c[2], 100);
}

/* --dps-webhook-allow: URL prefixes, https:// alone by default. */
static void webhook_allow(void **state)
{
	const char *allow = "http://127.0.0.1, https://hooks.example/allowed/";

	(void)state;
	assert_true(dps_webhook_allowed("https://any.example/x", NULL));
	assert_false(dps_webhook_allowed("http://any.example/x", NULL));
	assert_false(dps_webhook_allowed(NULL, NULL));
	assert_true(dps_webhook_allowed("http://127.0.0.1:8080/hook", allow));
	assert_true(dps_webhook_allowed("http://127.0.0.1/hook", allow));
	assert_true(dps_webhook_allowed("http://127.0.0.1", allow));
	assert_true(dps_webhook_allowed("HTTPS://Hooks.Example/allowed/a", allow));
	assert_false(dps_webhook_allowed("https://hooks.example/Allowed/a", allow));
	assert_false(dps_webhook_allowed("https://hooks.example/other", allow));
	assert_false(dps_webhook_allowed("http://127.0.0.10/hook", allow));
	assert_false(dps_webhook_allowed("http://127.0.0.1.evil.test/", allow));
	assert_false(dps_webhook_allowed("http://127.0.0.1@evil.test/", allow));
	assert_false(dps_webhook_allowed("https://any.example/x", allow));
	assert_false(dps_webhook_allowed("https://any.example/x", ""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(webhook_allow),
		cmocka_unit_test(refusals),
		cmocka_unit_test(accepted_and_loaded),
		cmocka_unit_test(hashed_weighted_and_stable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
