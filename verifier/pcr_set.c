/* PCR value sets and the quote's pcrDigest (TPM 2.0 Part 3, 18.4
 * TPM2_Quote: the digest of the selected PCRs concatenated in order). */
#include "verifier/pcr_set.h"

#include <string.h>
#include <openssl/evp.h>

#include "verifier/tpm_alg.h"

struct pcr_bank *pcr_set_bank(const struct pcr_set *s, uint16_t alg)
{
	for (size_t i = 0; i < s->nbanks; i++)
		if (s->bank[i].alg == alg)
			return (struct pcr_bank *)&s->bank[i];
	return NULL;
}

struct pcr_bank *pcr_set_bank_add(struct pcr_set *s, uint16_t alg)
{
	struct pcr_bank *b = pcr_set_bank(s, alg);

	if (b != NULL)
		return b;
	if (tpm_alg_digest_size(alg) == 0 || s->nbanks == PCR_BANKS)
		return NULL;
	b = &s->bank[s->nbanks++];
	memset(b, 0, sizeof(*b));
	b->alg = alg;
	return b;
}

int pcr_selection_check(const TPML_PCR_SELECTION *sel, struct verr *e)
{
	if (sel->count > TPM2_NUM_PCR_BANKS) {
		verr_set(e, "pcr-selection", "%u banks selected", sel->count);
		return -1;
	}
	for (uint32_t i = 0; i < sel->count; i++) {
		const TPMS_PCR_SELECTION *p = &sel->pcrSelections[i];
		if (tpm_alg_digest_size(p->hash) == 0) {
			verr_set(e, "pcr-selection", "unknown PCR bank 0x%04x", p->hash);
			return -1;
		}
		/* Three bytes cover PCRs 0-23, all a PC Client TPM has. */
		if (p->sizeofSelect > 3) {
			verr_set(e, "pcr-selection", "sizeofSelect %u beyond PCR 23",
				 p->sizeofSelect);
			return -1;
		}
		for (uint32_t j = 0; j < i; j++)
			if (sel->pcrSelections[j].hash == p->hash) {
				verr_set(e, "pcr-selection", "bank 0x%04x selected twice", p->hash);
				return -1;
			}
	}
	return 0;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t sel_mask(const TPMS_PCR_SELECTION *p)
{
	uint32_t m = 0;
	for (unsigned k = 0; k < p->sizeofSelect && k < 3; k++)
		m |= (uint32_t)p->pcrSelect[k] << (8 * k);
	return m;
}

/* Layout of tpm2-tools' "serialized" file on x86-64/aarch64 (tpm2-tools
 * lib/pcr.c writes the structs with fwrite): TPML_PCR_SELECTION is a u32
 * count and 16 TPMS_PCR_SELECTION of 8 bytes (hash u16, sizeofSelect u8,
 * pcrSelect[4], one pad byte); then a u32 count of TPML_DIGEST, each a
 * u32 count and 8 TPM2B_DIGEST of 66 bytes (u16 size, 64-byte buffer). */
#define SER_SEL_LEN (4 + 16 * 8)
#define SER_DIGESTS_LEN (4 + 8 * 66)

static int read_serialized(const uint8_t *b, size_t n, struct pcr_set *out, struct verr *e)
{
	TPML_PCR_SELECTION sel;
	size_t off, nd, used = 0, total = 0;

	memset(&sel, 0, sizeof(sel));
	if (n < SER_SEL_LEN + 4) {
		verr_set(e, "pcrs-truncated", "PCR file of %zu bytes", n);
		return -1;
	}
	sel.count = le32(b);
	if (sel.count > TPM2_NUM_PCR_BANKS) {
		verr_set(e, "pcrs-malformed", "PCR file selects %u banks", sel.count);
		return -1;
	}
	for (uint32_t i = 0; i < sel.count; i++) {
		const uint8_t *p = b + 4 + 8 * i;
		sel.pcrSelections[i].hash = (uint16_t)(p[0] | p[1] << 8);
		sel.pcrSelections[i].sizeofSelect = p[2];
		memcpy(sel.pcrSelections[i].pcrSelect, p + 3, 4);
	}
	if (pcr_selection_check(&sel, e) != 0)
		return -1;
	nd = le32(b + SER_SEL_LEN);
	off = SER_SEL_LEN + 4;
	if (nd > (n - off) / SER_DIGESTS_LEN || n - off != nd * SER_DIGESTS_LEN) {
		verr_set(e, "pcrs-malformed",
			 "PCR file of %zu bytes does not hold %zu digest lists", n, nd);
		return -1;
	}
	for (uint32_t i = 0; i < sel.count; i++)
		total += (size_t)__builtin_popcount(sel_mask(&sel.pcrSelections[i]));
	if (total != 0 && (total + 7) / 8 != nd) {
		verr_set(e, "pcrs-malformed", "%zu PCRs selected but %zu digest lists", total, nd);
		return -1;
	}
	/* Digests follow the selection order, eight to a TPML_DIGEST. */
	for (uint32_t i = 0; i < sel.count; i++) {
		const TPMS_PCR_SELECTION *p = &sel.pcrSelections[i];
		struct pcr_bank *bk = pcr_set_bank_add(out, p->hash);
		size_t ds = tpm_alg_digest_size(p->hash);
		uint32_t m = sel_mask(p);

		if (bk == NULL) {
			verr_set(e, "pcrs-malformed", "too many banks");
			return -1;
		}
		for (unsigned pcr = 0; pcr < PCR_COUNT; pcr++) {
			const uint8_t *list, *d;
			if (!(m & (1u << pcr)))
				continue;
			list = b + off + (used / 8) * SER_DIGESTS_LEN;
			if (le32(list) <= used % 8) {
				verr_set(e, "pcrs-malformed", "digest list too short");
				return -1;
			}
			d = list + 4 + (used % 8) * 66;
			if ((size_t)(d[0] | d[1] << 8) != ds) {
				verr_set(e, "pcrs-malformed",
					 "PCR %u digest of %u bytes in a %zu-byte bank", pcr,
					 d[0] | d[1] << 8, ds);
				return -1;
			}
			memcpy(bk->v[pcr], d + 2, ds);
			bk->mask |= 1u << pcr;
			used++;
		}
	}
	return 0;
}

static int read_values(const uint8_t *b, size_t n, const TPML_PCR_SELECTION *sel,
		       struct pcr_set *out, struct verr *e)
{
	size_t off = 0;

	for (uint32_t i = 0; i < sel->count; i++) {
		const TPMS_PCR_SELECTION *p = &sel->pcrSelections[i];
		struct pcr_bank *bk = pcr_set_bank_add(out, p->hash);
		size_t ds = tpm_alg_digest_size(p->hash);
		uint32_t m = sel_mask(p);

		for (unsigned pcr = 0; bk != NULL && pcr < PCR_COUNT; pcr++) {
			if (!(m & (1u << pcr)))
				continue;
			if (n - off < ds) {
				verr_set(e, "pcrs-truncated", "PCR values end early");
				return -1;
			}
			memcpy(bk->v[pcr], b + off, ds);
			bk->mask |= 1u << pcr;
			off += ds;
		}
	}
	if (off != n) {
		verr_set(e, "pcrs-malformed", "PCR values file has %zu extra bytes", n - off);
		return -1;
	}
	return 0;
}

int pcr_set_read_tpm2tools(const uint8_t *b, size_t n, const TPML_PCR_SELECTION *sel,
			   struct pcr_set *out, struct verr *e)
{
	size_t want = 0;

	memset(out, 0, sizeof(*out));
	if (b == NULL) {
		verr_set(e, "pcrs-truncated", "no PCR data");
		return -1;
	}
	/* A file exactly as long as the selection's digests is the "values"
	 * layout; a serialized file is always longer than that. */
	if (sel != NULL && pcr_selection_check(sel, NULL) == 0) {
		for (uint32_t i = 0; i < sel->count; i++)
			want += (size_t)__builtin_popcount(sel_mask(&sel->pcrSelections[i])) *
				tpm_alg_digest_size(sel->pcrSelections[i].hash);
		if (want == n && n > 0)
			return read_values(b, n, sel, out, e);
	}
	return read_serialized(b, n, out, e);
}

int pcr_set_digest(const struct pcr_set *s, const TPML_PCR_SELECTION *sel, uint16_t alg,
		   uint8_t *out, size_t *outlen, struct pcr_set *covered, struct verr *e)
{
	const EVP_MD *md = tpm_alg_md(alg);
	EVP_MD_CTX *ctx = NULL;
	unsigned int dl = 0;
	int rc = -1;

	if (covered != NULL)
		memset(covered, 0, sizeof(*covered));
	if (pcr_selection_check(sel, e) != 0)
		goto out;
	if (md == NULL || (ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(ctx, md, NULL) != 1) {
		verr_set(e, "internal", "digest setup failed");
		goto out;
	}
	for (uint32_t i = 0; i < sel->count; i++) {
		const TPMS_PCR_SELECTION *p = &sel->pcrSelections[i];
		const struct pcr_bank *bk = pcr_set_bank(s, p->hash);
		struct pcr_bank *cb = covered ? pcr_set_bank_add(covered, p->hash) : NULL;
		size_t ds = tpm_alg_digest_size(p->hash);
		uint32_t m = sel_mask(p);

		if (m != 0 && (bk == NULL || (bk->mask & m) != m)) {
			verr_set(e, "pcrs-missing",
				 "PCR values for bank %s do not include every quoted PCR",
				 tpm_alg_hash_name(p->hash));
			goto out;
		}
		for (unsigned pcr = 0; pcr < PCR_COUNT; pcr++) {
			if (!(m & (1u << pcr)))
				continue;
			if (EVP_DigestUpdate(ctx, bk->v[pcr], ds) != 1) {
				verr_set(e, "internal", "digest failed");
				goto out;
			}
			if (cb != NULL) {
				memcpy(cb->v[pcr], bk->v[pcr], ds);
				cb->mask |= 1u << pcr;
			}
		}
	}
	if (EVP_DigestFinal_ex(ctx, out, &dl) != 1) {
		verr_set(e, "internal", "digest failed");
		goto out;
	}
	*outlen = dl;
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	if (rc != 0 && covered != NULL)
		memset(covered, 0, sizeof(*covered));
	return rc;
}
