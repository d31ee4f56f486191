/* orchard-pkg: a publisher's tool for the depot (docs/depot.md). The
 * command line is fixed (scripts are written against it):
 *   orchard-pkg keygen --out NAME.key
 *       an Ed25519 private key (PKCS#8 PEM, mode 0600) and NAME.pub beside it
 *   orchard-pkg build DIR --key publisher.key --out FILE.opkg
 *       DIR/manifest.json (without "module") and DIR/app.wasm: fills module's
 *       digest, signs the canonical manifest, writes one .opkg file
 *   orchard-pkg publish FILE.opkg --url URL --token TOKEN [--cacert ROOT.pem]
 *       POST URL/depot/packages; prints Orchard's answer
 * Exit 0 on success, 2 when Orchard refused, 1 on any other failure. The
 * manifest, key and container code is depot/'s, shared with orchardd. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file.h"
#include "common/hex.h"
#include "depot/depot.h"

#define MODULE_MAX ((size_t)2000 * 1024 * 1024)

static void usage(void)
{
	fprintf(stderr, "usage: orchard-pkg keygen --out NAME.key\n"
			"       orchard-pkg build DIR --key publisher.key --out FILE.opkg\n"
			"       orchard-pkg publish FILE.opkg --url URL --token TOKEN "
			"[--cacert ROOT.pem]\n");
}

/* The value of --name in argv[from..argc), or NULL. */
static const char *opt(int argc, char **argv, int from, const char *name)
{
	for (int i = from; i + 1 < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return argv[i + 1];
	return NULL;
}

/* Every argument from argv[from] is a known --option with a value. */
static int opts_ok(int argc, char **argv, int from, const char *const *known)
{
	for (int i = from; i < argc; i += 2) {
		bool ok = false;
		for (const char *const *k = known; *k; k++)
			ok = ok || strcmp(argv[i], *k) == 0;
		if (!ok || i + 1 >= argc) {
			fprintf(stderr, "orchard-pkg: unexpected argument %s\n", argv[i]);
			return -1;
		}
	}
	return 0;
}

/* Writes len bytes to path through a temporary file and rename, with mode;
 * excl refuses an existing path. */
static int write_file(const char *path, const void *data, size_t len, mode_t mode, bool excl)
{
	char tmp[4096];
	int fd, rc = -1;

	if (excl && access(path, F_OK) == 0) {
		fprintf(stderr, "orchard-pkg: %s exists: not overwriting a key\n", path);
		return -1;
	}
	if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid()) >= sizeof tmp)
		return -1;
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, mode)) < 0) {
		fprintf(stderr, "orchard-pkg: %s: %s\n", tmp, strerror(errno));
		return -1;
	}
	if (fchmod(fd, mode) == 0 && write(fd, data, len) == (ssize_t)len && fsync(fd) == 0)
		rc = 0;
	if (close(fd) != 0)
		rc = -1;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -1;
	if (rc != 0) {
		fprintf(stderr, "orchard-pkg: cannot write %s: %s\n", path, strerror(errno));
		unlink(tmp);
	}
	return rc;
}

static int cmd_keygen(int argc, char **argv)
{
	static const char *const known[] = {"--out", NULL};
	const char *out = opt(argc, argv, 2, "--out");
	EVP_PKEY *key = NULL;
	BIO *bio = NULL;
	char *pub = NULL, *pubpath = NULL, *data;
	size_t n;
	long len;
	int rc = 1;

	if (opts_ok(argc, argv, 2, known) != 0 || out == NULL)
		return usage(), 1;
	n = strlen(out);
	if (n > 4 && strcmp(out + n - 4, ".key") == 0)
		n -= 4;
	if ((pubpath = malloc(n + 5)) == NULL)
		goto out;
	memcpy(pubpath, out, n);
	memcpy(pubpath + n, ".pub", 5);
	if ((key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")) == NULL ||
	    (bio = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) != 1 ||
	    (len = BIO_get_mem_data(bio, &data)) <= 0) {
		fprintf(stderr, "orchard-pkg: cannot make an Ed25519 key\n");
		goto out;
	}
	if ((pub = depot_key_pem(key)) == NULL ||
	    write_file(out, data, (size_t)len, 0600, true) != 0 ||
	    write_file(pubpath, pub, strlen(pub), 0644, true) != 0)
		goto out;
	printf("%s\n%s\n", out, pubpath);
	rc = 0;
out:
	BIO_free(bio);
	EVP_PKEY_free(key);
	free(pub);
	free(pubpath);
	return rc;
}

static EVP_PKEY *read_private_key(const char *path)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *key;

	if (f == NULL) {
		fprintf(stderr, "orchard-pkg: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (key == NULL || EVP_PKEY_get_id(key) != EVP_PKEY_ED25519) {
		fprintf(stderr, "orchard-pkg: %s is not an Ed25519 private key (PEM)\n", path);
		EVP_PKEY_free(key);
		return NULL;
	}
	return key;
}

static int cmd_build(int argc, char **argv)
{
	static const char *const known[] = {"--key", "--out", NULL};
	const char *dir = argc > 2 ? argv[2] : NULL, *keypath, *out, *why = NULL;
	char path[4096], hex[65], module[7 + 65], *manifest = NULL, *wasm = NULL, *canon = NULL;
	uint8_t digest[SHA256_DIGEST_LENGTH], sig[DEPOT_SIG_LEN];
	struct depot_manifest m = {0}, signed_m = {0};
	size_t mlen = 0, wlen = 0, clen = 0, flen = 0;
	char *fbuf = NULL;
	EVP_PKEY *key = NULL;
	json_t *doc = NULL;
	FILE *f = NULL;
	int rc = 1;

	keypath = opt(argc, argv, 3, "--key");
	out = opt(argc, argv, 3, "--out");
	if (dir == NULL || dir[0] == '-' || opts_ok(argc, argv, 3, known) != 0 || keypath == NULL ||
	    out == NULL)
		return usage(), 1;
	if ((key = read_private_key(keypath)) == NULL)
		goto out;
	snprintf(path, sizeof path, "%s/manifest.json", dir);
	if ((manifest = file_read(path, DEPOT_MANIFEST_MAX, &mlen)) == NULL) {
		fprintf(stderr, "orchard-pkg: cannot read %s (missing, empty or over 64 KiB)\n",
			path);
		goto out;
	}
	if (depot_manifest_parse(manifest, mlen, 0, &m, &why) != 0) {
		fprintf(stderr, "orchard-pkg: %s: %s\n", path, why);
		goto out;
	}
	snprintf(path, sizeof path, "%s/app.wasm", dir);
	if ((wasm = file_read(path, MODULE_MAX, &wlen)) == NULL) {
		fprintf(stderr, "orchard-pkg: cannot read %s (missing, empty or too large)\n",
			path);
		goto out;
	}
	SHA256((const uint8_t *)wasm, wlen, digest);
	hex_encode(digest, sizeof digest, hex);
	snprintf(module, sizeof module, "sha256:%s", hex);
	if ((doc = json_deep_copy(m.doc)) == NULL ||
	    json_object_set_new(doc, "module", json_string(module)) != 0 ||
	    depot_manifest_check(doc, 1, &signed_m, &why) != 0 ||
	    (canon = depot_canonical(doc, &clen)) == NULL) {
		fprintf(stderr, "orchard-pkg: cannot complete the manifest: %s\n", why ? why : "");
		goto out;
	}
	if (depot_sign(key, (const uint8_t *)canon, clen, sig) != 0) {
		fprintf(stderr, "orchard-pkg: signing failed\n");
		goto out;
	}
	if ((f = open_memstream(&fbuf, &flen)) == NULL ||
	    depot_opkg_write(f, canon, clen, sig, (const uint8_t *)wasm, wlen) != 0 ||
	    fclose(f) != 0) {
		f = NULL;
		fprintf(stderr, "orchard-pkg: cannot assemble the package\n");
		goto out;
	}
	f = NULL;
	if (write_file(out, fbuf, flen, 0644, false) != 0)
		goto out;
	printf("%s/pkg/%s/%s %s %zu bytes\n", m.publisher, m.name, m.version, module, wlen);
	rc = 0;
out:
	if (f != NULL)
		fclose(f);
	free(fbuf);
	free(canon);
	json_decref(doc);
	depot_manifest_free(&m);
	depot_manifest_free(&signed_m);
	free(manifest);
	free(wasm);
	EVP_PKEY_free(key);
	return rc;
}

static size_t collect(char *data, size_t size, size_t n, void *cls)
{
	FILE *f = cls;
	return fwrite(data, size, n, f) * size;
}

static int cmd_publish(int argc, char **argv)
{
	static const char *const known[] = {"--url", "--token", "--cacert", NULL};
	const char *file = argc > 2 ? argv[2] : NULL, *url, *token, *cacert;
	char *body = NULL, *endpoint = NULL, *auth = NULL, *answer = NULL;
	size_t blen = 0, alen = 0;
	struct curl_slist *hdrs = NULL;
	FILE *af = NULL;
	CURL *curl = NULL;
	long status = 0;
	CURLcode cc;
	int rc = 1;

	url = opt(argc, argv, 3, "--url");
	token = opt(argc, argv, 3, "--token");
	cacert = opt(argc, argv, 3, "--cacert");
	if (file == NULL || file[0] == '-' || opts_ok(argc, argv, 3, known) != 0 || url == NULL ||
	    token == NULL)
		return usage(), 1;
	if ((body = file_read(file, MODULE_MAX + DEPOT_OPKG_OVERHEAD, &blen)) == NULL) {
		fprintf(stderr, "orchard-pkg: cannot read %s\n", file);
		return 1;
	}
	if (asprintf(&endpoint, "%s%sdepot/packages", url,
		     url[0] && url[strlen(url) - 1] == '/' ? "" : "/") < 0 ||
	    asprintf(&auth, "Authorization: Bearer %s", token) < 0) {
		endpoint = auth = NULL;
		goto out;
	}
	if ((curl = curl_easy_init()) == NULL || (af = open_memstream(&answer, &alen)) == NULL)
		goto out;
	hdrs = curl_slist_append(hdrs, auth);
	hdrs = curl_slist_append(hdrs, "Content-Type: application/vnd.orchard.opkg");
	hdrs = curl_slist_append(hdrs, "Expect:");
	curl_easy_setopt(curl, CURLOPT_URL, endpoint);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, af);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, 600L);
	if (cacert != NULL)
		curl_easy_setopt(curl, CURLOPT_CAINFO, cacert);
	cc = curl_easy_perform(curl);
	fclose(af);
	af = NULL;
	if (cc != CURLE_OK) {
		fprintf(stderr, "orchard-pkg: %s: %s\n", endpoint, curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	printf("%s\n", answer ? answer : "");
	if (status == 201) {
		rc = 0;
	} else {
		fprintf(stderr, "orchard-pkg: Orchard answered %ld\n", status);
		rc = 2;
	}
out:
	if (af != NULL)
		fclose(af);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(curl);
	free(answer);
	free(endpoint);
	free(auth);
	free(body);
	return rc;
}

int main(int argc, char **argv)
{
	int rc;

	if (argc < 2) {
		usage();
		return 1;
	}
	if (strcmp(argv[1], "keygen") == 0)
		return cmd_keygen(argc, argv);
	if (strcmp(argv[1], "build") == 0)
		return cmd_build(argc, argv);
	if (strcmp(argv[1], "publish") == 0) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		rc = cmd_publish(argc, argv);
		curl_global_cleanup();
		return rc;
	}
	usage();
	return 1;
}
