/* fake-kernel.c: an LD_PRELOAD shim that plays a kernel's IPVS sockopt interface for the real
 * /usr/sbin/ipvsadm 1.31 on a machine without IPVS, so the golden files in this folder are what
 * that binary itself prints.  ipvsadm's libipvs first tries generic netlink ("IPVS" family, absent
 * here), then falls back to getsockopt/setsockopt(IPPROTO_IP, IP_VS_SO_*) on a raw socket: this
 * shim answers those from a table file ($IPVS_FAKE) and logs every SET call (what ipvsadm parsed)
 * on stderr (failing with errno $IPVS_FAKE_SET_ERRNO when set).  fopen("/proc/net/ip_vs_conn") is redirected to $IPVS_FAKE_CONN for `-c`.
 * Build: gcc -shared -fPIC -o fake-kernel.so fake-kernel.c -ldl ; see make-golden.sh.
 * Table file lines (values in decimal; addresses dotted; dst lines belong to the svc above):
 *   info VERSION SIZE
 *   timeout TCP TCPFIN UDP
 *   svc PROTO ADDR PORT SCHED FLAGS TIMEOUT NETMASK CONNS INPKTS OUTPKTS INBYTES OUTBYTES CPS INPPS OUTPPS INBPS OUTBPS
 *   dst ADDR PORT CONNFLAGS WEIGHT ACTIVE INACT PERSIST CONNS INPKTS OUTPKTS INBYTES OUTBYTES CPS INPPS OUTPPS INBPS OUTBPS
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <linux/ip_vs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define MAXS 16
#define MAXD 16
static struct ip_vs_service_entry svcs[MAXS];
static struct ip_vs_dest_entry dsts[MAXS][MAXD];
static int nsvc;
static unsigned version = 0x010201, size = 4096;
static struct ip_vs_timeout_user tmo = {900, 120, 300};
static int loaded;

static void stats(FILE *f, struct ip_vs_stats_user *s) {
	unsigned long long ib, ob;
	if (fscanf(f, "%u %u %u %llu %llu %u %u %u %u %u", &s->conns, &s->inpkts, &s->outpkts, &ib, &ob,
		   &s->cps, &s->inpps, &s->outpps, &s->inbps, &s->outbps) != 10)
		exit(99);
	s->inbytes = ib;
	s->outbytes = ob;
}

static void load(void) {
	char word[32], a[32], m[32];
	const char *path = getenv("IPVS_FAKE");
	FILE *f;
	if (loaded) return;
	loaded = 1;
	if (!path || !(f = fopen(path, "r"))) return;
	while (fscanf(f, "%31s", word) == 1) {
		if (!strcmp(word, "info")) {
			if (fscanf(f, "%i %u", &version, &size) != 2) exit(99);
		} else if (!strcmp(word, "timeout")) {
			if (fscanf(f, "%d %d %d", &tmo.tcp_timeout, &tmo.tcp_fin_timeout, &tmo.udp_timeout) != 3) exit(99);
		} else if (!strcmp(word, "svc")) {
			struct ip_vs_service_entry *s = &svcs[nsvc++];
			unsigned proto, port;
			if (fscanf(f, "%u %31s %u %15s %u %u %31s", &proto, a, &port, s->sched_name, &s->flags,
				   &s->timeout, m) != 7) exit(99);
			s->protocol = proto;
			inet_pton(AF_INET, a, &s->addr);
			s->port = htons(port);
			inet_pton(AF_INET, m, &s->netmask);
			stats(f, &s->stats);
		} else if (!strcmp(word, "dst")) {
			struct ip_vs_service_entry *s = &svcs[nsvc - 1];
			struct ip_vs_dest_entry *d = &dsts[nsvc - 1][s->num_dests++];
			unsigned port;
			if (fscanf(f, "%31s %u %u %d %u %u %u", a, &port, &d->conn_flags, &d->weight,
				   &d->activeconns, &d->inactconns, &d->persistconns) != 7) exit(99);
			inet_pton(AF_INET, a, &d->addr);
			d->port = htons(port);
			stats(f, &d->stats);
		} else exit(99);
	}
	fclose(f);
}

static int find(__u16 proto, __be32 addr, __be16 port) {
	for (int i = 0; i < nsvc; i++)
		if (svcs[i].protocol == proto && svcs[i].addr == addr && svcs[i].port == port) return i;
	return -1;
}

int getsockopt(int fd, int level, int name, void *val, socklen_t *len) {
	static int (*real)(int, int, int, void *, socklen_t *);
	if (level != IPPROTO_IP || name < IP_VS_SO_GET_VERSION || name > IP_VS_SO_GET_MAX) {
		if (!real) real = dlsym(RTLD_NEXT, "getsockopt");
		return real(fd, level, name, val, len);
	}
	load();
	switch (name) {
	case IP_VS_SO_GET_INFO: {
		struct ip_vs_getinfo *i = val;
		i->version = version; i->size = size; i->num_services = nsvc;
		return 0;
	}
	case IP_VS_SO_GET_SERVICES: {
		struct ip_vs_get_services *g = val;
		g->num_services = nsvc;
		memcpy(g->entrytable, svcs, sizeof(svcs[0]) * nsvc);
		return 0;
	}
	case IP_VS_SO_GET_SERVICE: {
		struct ip_vs_service_entry *e = val;
		int i = find(e->protocol, e->addr, e->port);
		if (i < 0) { errno = ESRCH; return -1; }
		*e = svcs[i];
		return 0;
	}
	case IP_VS_SO_GET_DESTS: {
		struct ip_vs_get_dests *g = val;
		int i = find(g->protocol, g->addr, g->port);
		if (i < 0) { errno = ESRCH; return -1; }
		g->num_dests = svcs[i].num_dests;
		memcpy(g->entrytable, dsts[i], sizeof(dsts[i][0]) * g->num_dests);
		return 0;
	}
	case IP_VS_SO_GET_TIMEOUT:
		*(struct ip_vs_timeout_user *)val = tmo;
		return 0;
	case IP_VS_SO_GET_DAEMON:
		memset(val, 0, *len);
		return 0;
	}
	errno = ENOPROTOOPT;
	return -1;
}

int setsockopt(int fd, int level, int name, const void *val, socklen_t len) {
	static int (*real)(int, int, int, const void *, socklen_t);
	if (level != IPPROTO_IP || name < IP_VS_BASE_CTL || name > IP_VS_SO_SET_MAX) {
		if (!real) real = dlsym(RTLD_NEXT, "setsockopt");
		return real(fd, level, name, val, len);
	}
	const struct ip_vs_service_user *s = val;
	char a[16] = "", m[16] = "";
	fprintf(stderr, "SET %d", name - IP_VS_BASE_CTL);
	if (name == IP_VS_SO_SET_TIMEOUT) {
		const struct ip_vs_timeout_user *t = val;
		fprintf(stderr, " timeout %d %d %d\n", t->tcp_timeout, t->tcp_fin_timeout, t->udp_timeout);
		return 0;
	}
	if (len >= sizeof(*s)) {
		inet_ntop(AF_INET, &s->addr, a, sizeof a);
		inet_ntop(AF_INET, &s->netmask, m, sizeof m);
		fprintf(stderr, " svc proto=%u addr=%s port=%u fwmark=%u sched=%s flags=%u timeout=%u netmask=%s",
			s->protocol, a, ntohs(s->port), s->fwmark, s->sched_name, s->flags, s->timeout, m);
	}
	if (len >= sizeof(*s) + sizeof(struct ip_vs_dest_user)) {
		const struct ip_vs_dest_user *d = (const void *)(s + 1);
		inet_ntop(AF_INET, &d->addr, a, sizeof a);
		fprintf(stderr, " dest addr=%s port=%u conn_flags=%u weight=%d", a, ntohs(d->port),
			d->conn_flags, d->weight);
	}
	fprintf(stderr, "\n");
	if (getenv("IPVS_FAKE_SET_ERRNO")) {
		errno = atoi(getenv("IPVS_FAKE_SET_ERRNO"));
		return -1;
	}
	return 0;
}

FILE *fopen(const char *path, const char *mode) {
	static FILE *(*real)(const char *, const char *);
	if (!real) real = dlsym(RTLD_NEXT, "fopen");
	if (!strcmp(path, "/proc/net/ip_vs_conn") && getenv("IPVS_FAKE_CONN"))
		path = getenv("IPVS_FAKE_CONN");
	return real(path, mode);
}
