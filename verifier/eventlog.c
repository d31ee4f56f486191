/* Crypto-agile event log parser and replayer, after the TCG PC Client
 * Platform Firmware Profile 2.0, 10.2 (TCG_PCR_EVENT, TCG_PCR_EVENT2,
 * TCG_EfiSpecIDEvent) and 10.4.5.3 (StartupLocality). */
#include "verifier/eventlog.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

#include "common/cursor.h"
#include "verifier/tpm_alg.h"

static const char spec_id_sig[16] = "Spec ID Event03";
static const char locality_sig[16] = "StartupLocality";

/* The first event: TCG_PCR_EVENT with a SHA-1-sized digest carrying the
 * TCG_EfiSpecIDEvent that declares each bank and its digest size. */
static int parse_spec_id(struct cursor *c, struct eventlog *log, struct verr *e)
{
	uint32_t pcr, type, size, nalgs;
	const uint8_t *skip, *sig, *data;
	uint8_t vsize;
	struct cursor s;

	if (cursor_le32(c, &pcr) || cursor_le32(c, &type) || cursor_bytes(c, 20, &skip) ||
	    cursor_le32(c, &size) || cursor_bytes(c, size, &data)) {
		verr_set(e, "eventlog-truncated", "log ends inside its first event");
		return -1;
	}
	cursor_init(&s, data, size);
	if (pcr != 0 || type != EV_NO_ACTION || cursor_bytes(&s, 16, &sig) ||
	    memcmp(sig, spec_id_sig, 16) != 0) {
		verr_set(e, "eventlog-specid", "first event is not a crypto-agile Spec ID event");
		return -1;
	}
	/* platformClass u32, specVersionMinor/Major, specErrata, uintnSize */
	if (cursor_bytes(&s, 8, &skip) || cursor_le32(&s, &nalgs) || nalgs == 0 ||
	    nalgs > EVENTLOG_MAX_ALGS) {
		verr_set(e, "eventlog-specid", "Spec ID event declares a bad number of algorithms");
		return -1;
	}
	for (uint32_t i = 0; i < nalgs; i++) {
		uint16_t alg, ds;
		if (cursor_le16(&s, &alg) || cursor_le16(&s, &ds) || ds == 0 || ds > 64) {
			verr_set(e, "eventlog-specid", "Spec ID algorithm list malformed");
			return -1;
		}
		for (size_t j = 0; j < log->nalgs; j++)
			if (log->algs[j].alg == alg) {
				verr_set(e, "eventlog-specid", "algorithm 0x%04x declared twice",
					 alg);
				return -1;
			}
		/* A known hash must have its real size, or replay would read the
		 * wrong bytes. */
		if (tpm_alg_digest_size(alg) != 0 && tpm_alg_digest_size(alg) != ds) {
			verr_set(e, "eventlog-specid", "algorithm 0x%04x declared with size %u",
				 alg, ds);
			return -1;
		}
		log->algs[log->nalgs].alg = alg;
		log->algs[log->nalgs].size = ds;
		log->nalgs++;
	}
	if (cursor_u8(&s, &vsize) || cursor_bytes(&s, vsize, &skip) || cursor_left(&s) != 0) {
		verr_set(e, "eventlog-specid", "Spec ID vendor info malformed");
		return -1;
	}
	return 0;
}

static uint16_t alg_size(const struct eventlog *log, uint16_t alg)
{
	for (size_t i = 0; i < log->nalgs; i++)
		if (log->algs[i].alg == alg)
			return log->algs[i].size;
	return 0;
}

static int parse_event2(struct cursor *c, const struct eventlog *log, struct eventlog_event *ev,
			struct verr *e)
{
	uint32_t count;
	const uint8_t *data;

	memset(ev, 0, sizeof(*ev));
	if (cursor_le32(c, &ev->pcr) || cursor_le32(c, &ev->type) || cursor_le32(c, &count)) {
		verr_set(e, "eventlog-truncated", "log ends inside an event header");
		return -1;
	}
	if (ev->pcr >= PCR_COUNT || count > log->nalgs) {
		verr_set(e, "eventlog-malformed", "event for PCR %u with %u digests", ev->pcr,
			 count);
		return -1;
	}
	for (uint32_t i = 0; i < count; i++) {
		uint16_t alg, ds;
		if (cursor_le16(c, &alg)) {
			verr_set(e, "eventlog-truncated", "log ends inside a digest");
			return -1;
		}
		ds = alg_size(log, alg);
		if (ds == 0) {
			verr_set(e, "eventlog-malformed",
				 "digest algorithm 0x%04x not in the Spec ID event", alg);
			return -1;
		}
		for (size_t j = 0; j < i; j++)
			if (ev->digests[j].alg == alg) {
				verr_set(e, "eventlog-malformed",
					 "digest algorithm 0x%04x twice in one event", alg);
				return -1;
			}
		if (cursor_bytes(c, ds, &ev->digests[i].d)) {
			verr_set(e, "eventlog-truncated", "log ends inside a digest");
			return -1;
		}
		ev->digests[i].alg = alg;
		ev->ndigests++;
	}
	if (cursor_le32(c, &ev->data_len) || cursor_bytes(c, ev->data_len, &data)) {
		verr_set(e, "eventlog-truncated", "log ends inside event data");
		return -1;
	}
	ev->data = data;
	return 0;
}

static int extend(struct pcr_bank *bk, unsigned pcr, const uint8_t *d, size_t ds)
{
	uint8_t buf[128];
	unsigned int l = 0;

	memcpy(buf, bk->v[pcr], ds);
	memcpy(buf + ds, d, ds);
	return EVP_Digest(buf, 2 * ds, bk->v[pcr], &l, tpm_alg_md(bk->alg), NULL) == 1 ? 0 : -1;
}

static int replay(struct eventlog *log, struct verr *e)
{
	memset(&log->replay, 0, sizeof(log->replay));
	for (size_t i = 0; i < log->nalgs; i++) {
		struct pcr_bank *bk;
		/* Banks we cannot hash (SM3, say) are parsed but not replayed. */
		if (tpm_alg_md(log->algs[i].alg) == NULL || log->replay.nbanks == PCR_BANKS)
			continue;
		bk = pcr_set_bank_add(&log->replay, log->algs[i].alg);
		bk->mask = (1u << PCR_COUNT) - 1;
		/* Platform Firmware Profile 3.3.4.4: TPM2_Startup at locality L
		 * leaves PCR 0 as all zeros except a last byte of L. */
		bk->v[0][log->algs[i].size - 1] = log->startup_locality;
	}
	for (size_t k = 0; k < log->nevents; k++) {
		const struct eventlog_event *ev = &log->ev[k];
		if (ev->type == EV_NO_ACTION)
			continue;
		for (size_t b = 0; b < log->replay.nbanks; b++) {
			struct pcr_bank *bk = &log->replay.bank[b];
			size_t j;
			for (j = 0; j < ev->ndigests && ev->digests[j].alg != bk->alg; j++)
				;
			if (j == ev->ndigests) {
				verr_set(e, "eventlog-malformed", "event %zu lacks a %s digest",
					 k + 1, tpm_alg_hash_name(bk->alg));
				return -1;
			}
			if (extend(bk, ev->pcr, ev->digests[j].d, tpm_alg_digest_size(bk->alg)) !=
			    0) {
				verr_set(e, "internal", "digest failed");
				return -1;
			}
			log->touched[b] |= 1u << ev->pcr;
		}
	}
	return 0;
}

struct eventlog *eventlog_parse(const uint8_t *b, size_t n, struct verr *e)
{
	struct eventlog *log = calloc(1, sizeof(*log));
	struct cursor c;
	size_t cap = 0;
	int ok = 0;

	if (log == NULL || (log->raw = malloc(n ? n : 1)) == NULL) {
		verr_set(e, "internal", "out of memory");
		goto out;
	}
	if (n > 0)
		memcpy(log->raw, b, n);
	cursor_init(&c, log->raw, n);
	if (parse_spec_id(&c, log, e) != 0)
		goto out;
	while (cursor_left(&c) > 0) {
		struct eventlog_event *ev;
		if (log->nevents == EVENTLOG_MAX_EVENTS) {
			verr_set(e, "eventlog-too-large", "more than %d events",
				 EVENTLOG_MAX_EVENTS);
			goto out;
		}
		if (log->nevents == cap) {
			size_t ncap = cap ? 2 * cap : 64;
			struct eventlog_event *nev = realloc(log->ev, ncap * sizeof(*nev));
			if (nev == NULL) {
				verr_set(e, "internal", "out of memory");
				goto out;
			}
			log->ev = nev;
			cap = ncap;
		}
		ev = &log->ev[log->nevents];
		if (parse_event2(&c, log, ev, e) != 0)
			goto out;
		log->nevents++;
		if (ev->type == EV_NO_ACTION && ev->pcr == 0 && ev->data_len == 17 &&
		    memcmp(ev->data, locality_sig, 16) == 0)
			log->startup_locality = ev->data[16];
	}
	if (replay(log, e) != 0)
		goto out;
	ok = 1;
out:
	if (!ok) {
		eventlog_free(log);
		log = NULL;
	}
	return log;
}

int eventlog_check_quote(const struct eventlog *log, const struct pcr_set *covered, struct verr *e)
{
	size_t compared = 0;

	for (size_t b = 0; b < log->replay.nbanks; b++) {
		const struct pcr_bank *rb = &log->replay.bank[b];
		const struct pcr_bank *qb = pcr_set_bank(covered, rb->alg);
		size_t ds = tpm_alg_digest_size(rb->alg);
		if (qb == NULL)
			continue;
		for (unsigned pcr = 0; pcr < PCR_COUNT; pcr++) {
			if (!(qb->mask & log->touched[b] & (1u << pcr)))
				continue;
			if (memcmp(qb->v[pcr], rb->v[pcr], ds) != 0) {
				verr_set(e, "eventlog-mismatch",
					 "event log does not replay to quoted %s PCR %u",
					 tpm_alg_hash_name(rb->alg), pcr);
				return -1;
			}
			compared++;
		}
	}
	/* A log that shares no PCR with the quote vouches for nothing. */
	if (compared == 0) {
		verr_set(e, "eventlog-uncovered",
			 "the quote covers no PCR that the event log extends");
		return -1;
	}
	return 0;
}

void eventlog_free(struct eventlog *log)
{
	if (log == NULL)
		return;
	free(log->ev);
	free(log->raw);
	free(log);
}
