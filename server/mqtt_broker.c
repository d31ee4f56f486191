/* orchardd's own mosquitto: one supervisor thread forks it, waits for it
 * and starts it again a second later, until mqtt_broker_stop(). The child
 * asks for SIGKILL when that thread's process dies, so the broker never
 * outlives orchardd. The configuration is scripts/mqtt-broker's. */
#include "server/mqtt_broker.h"

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "server/server.h"

struct mqtt_broker {
	char conf[4096];
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pid_t pid;
	bool stop;
};

/* A TCP port on 127.0.0.1 nobody listens on now. */
static int free_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t n = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &n) == 0)
		port = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* The plugin: ORCHARD_MQTT_PLUGIN, else orchard_mqtt.so beside orchardd. */
static int plugin_path(char *out, size_t cap)
{
	const char *env = getenv("ORCHARD_MQTT_PLUGIN");
	char self[4096];
	ssize_t n;
	char *slash;

	if (env != NULL && *env != '\0')
		return snprintf(out, cap, "%s", env) < (int)cap ? 0 : -1;
	if ((n = readlink("/proc/self/exe", self, sizeof self - 1)) <= 0)
		return -1;
	self[n] = '\0';
	if ((slash = strrchr(self, '/')) == NULL)
		return -1;
	*slash = '\0';
	return snprintf(out, cap, "%s/orchard_mqtt.so", self) < (int)cap ? 0 : -1;
}

static void *supervise(void *cls)
{
	struct mqtt_broker *b = cls;
	pid_t parent = getpid();

	pthread_mutex_lock(&b->lock);
	while (!b->stop) {
		struct timespec ts;
		char pidbuf[16];
		pid_t pid;
		int st;

		pid = fork();
		if (pid == 0) {
			sigset_t none;

			/* orchardd's threads block SIGTERM and SIGINT: not so mosquitto */
			sigemptyset(&none);
			sigprocmask(SIG_SETMASK, &none, NULL);
			signal(SIGPIPE, SIG_DFL);
			/* dies with orchardd, kill -9 included */
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() != parent)
				_exit(1);
			execlp("mosquitto", "mosquitto", "-c", b->conf, (char *)NULL);
			_exit(127);
		}
		b->pid = pid;
		pthread_mutex_unlock(&b->lock);
		snprintf(pidbuf, sizeof pidbuf, "%ld", (long)pid);
		if (pid < 0)
			log_kv(LOG_ERROR, "cannot start mosquitto", "error", strerror(errno), NULL);
		else
			log_kv(LOG_INFO, "mqtt broker started", "pid", pidbuf, NULL);
		while (pid > 0 && waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		pthread_mutex_lock(&b->lock);
		b->pid = 0;
		if (b->stop)
			break;
		log_kv(LOG_WARN, "mqtt broker exited: restarting in a second", "pid", pidbuf, NULL);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&b->cond, &b->lock, &ts);
	}
	pthread_mutex_unlock(&b->lock);
	return NULL;
}

struct mqtt_broker *mqtt_broker_start(struct server *srv, const char *cert, const char *key,
				      char *backend, size_t cap, int *failed)
{
	const char *listen = srv->cfg.mqtt_listen, *colon, *x509 = srv->cfg.mqtt_x509_listen;
	const struct passwd *pw = getpwuid(getuid());
	char plugin[4096], dir[2048], sock[4096], root[4096], xl[1024] = "";
	struct mqtt_broker *b;
	int bport;
	FILE *f;

	*failed = 0;
	if (listen == NULL || *listen == '\0' || strcmp(listen, "off") == 0)
		return NULL;
	*failed = 1;
	if ((colon = strrchr(listen, ':')) == NULL || colon == listen ||
	    strtol(colon + 1, NULL, 10) <= 0) {
		log_kv(LOG_ERROR, "--mqtt-listen must be host:port", "value", listen, NULL);
		return NULL;
	}
	if (x509 != NULL && *x509 != '\0') {
		/* [host:]port: the device listener's host when none is given */
		const char *xc = strrchr(x509, ':');
		long xp = strtol(xc ? xc + 1 : x509, NULL, 10);

		snprintf(root, sizeof root, "%s",
			 srv->cfg.mqtt_x509_cafile ? srv->cfg.mqtt_x509_cafile
			 : srv->cfg.ca_root	   ? srv->cfg.ca_root
						   : "");
		if (root[0] == '\0')
			snprintf(root, sizeof root, "%s/pki/root.pem", srv->cfg.data_dir);
		if (xp <= 0 || xp > 65535 || (xc != NULL && xc == x509) ||
		    snprintf(xl, sizeof xl, "%ld %.*s", xp,
			     xc ? (int)(xc - x509) : (int)(colon - listen),
			     xc ? x509 : listen) >= (int)sizeof xl) {
			log_kv(LOG_ERROR, "--mqtt-x509-listen must be [host:]port", "value", x509,
			       NULL);
			return NULL;
		}
	}
	if (plugin_path(plugin, sizeof plugin) != 0 || access(plugin, R_OK) != 0) {
		log_kv(LOG_ERROR, "the mosquitto plugin is missing (ORCHARD_MQTT_PLUGIN)", "path",
		       plugin, NULL);
		return NULL;
	}
	if ((bport = free_port()) < 0 || (b = calloc(1, sizeof *b)) == NULL)
		return NULL;
	if (snprintf(dir, sizeof dir, "%s/mqtt", srv->cfg.data_dir) >= (int)sizeof dir) {
		free(b);
		return NULL;
	}
	snprintf(sock, sizeof sock, "%s/run/mqtt.sock", srv->cfg.data_dir);
	snprintf(b->conf, sizeof b->conf, "%s/mosquitto.conf", dir);
	if ((mkdir(dir, 0750) != 0 && errno != EEXIST) || (f = fopen(b->conf, "w")) == NULL) {
		log_kv(LOG_ERROR, "cannot write the broker's configuration", "path", b->conf, NULL);
		free(b);
		return NULL;
	}
	fprintf(f,
		"# Written by orchardd (--mqtt-listen) at every start: edit server/mqtt_broker.c\n"
		"per_listener_settings false\nallow_anonymous false\nuser %s\npersistence false\n"
		"persistent_client_expiration 1d\nmax_inflight_messages 20\n"
		"max_queued_messages 100\nmessage_size_limit 262144\nlog_dest stderr\n"
		"log_type error\nlog_type warning\nlog_type notice\nconnection_messages false\n"
		"plugin %s\nplugin_opt_socket %s\nplugin_opt_backend_user %s\n\n"
		"listener %s %.*s\ncertfile %s\nkeyfile %s\nset_tcp_nodelay true\n\n"
		"listener %d 127.0.0.1\nset_tcp_nodelay true\n",
		pw ? pw->pw_name : "root", plugin,
		srv->cfg.mqtt_socket ? srv->cfg.mqtt_socket : sock, srv->cfg.mqtt_user, colon + 1,
		(int)(colon - listen), listen, cert, key, bport);
	/* X.509 devices: mosquitto asks for a client certificate only where
	 * it requires one, hence a listener of their own */
	if (xl[0] != '\0')
		fprintf(f,
			"\nlistener %s\ncertfile %s\nkeyfile %s\ncafile %s\n"
			"require_certificate true\nset_tcp_nodelay true\n",
			xl, cert, key, root);
	if (fclose(f) != 0) {
		free(b);
		return NULL;
	}
	pthread_mutex_init(&b->lock, NULL);
	pthread_cond_init(&b->cond, NULL);
	if (pthread_create(&b->thread, NULL, supervise, b) != 0) {
		free(b);
		return NULL;
	}
	snprintf(backend, cap, "127.0.0.1:%d", bport);
	*failed = 0;
	return b;
}

void mqtt_broker_stop(struct mqtt_broker *b)
{
	if (b == NULL)
		return;
	pthread_mutex_lock(&b->lock);
	b->stop = true;
	if (b->pid > 0)
		kill(b->pid, SIGTERM);
	pthread_cond_broadcast(&b->cond);
	pthread_mutex_unlock(&b->lock);
	pthread_join(b->thread, NULL);
	pthread_mutex_destroy(&b->lock);
	pthread_cond_destroy(&b->cond);
	free(b);
}
