/*
 * The UDP reflector (readiness.h; docs/protocol.md, section 6): a probe
 * of a live test, with its MAC right and a seq not taken and below the
 * test's count, gets an echo of the same length; anything else gets
 * nothing and is counted by why. It never answers with more than it got,
 * and never answers someone who does not hold a live test's key, so the
 * port amplifies nothing and tells a scanner nothing.
 *
 * In the control loop: each wakeup reads a batch of datagrams at once
 * (recvmmsg), and echoes them in one sendmmsg; nothing blocks.
 */
#include "cloud/readiness/readiness-int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <endian.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/netutil.h"
#include "common/stat.h"
#include "common/timeval.h"

/* Datagrams per recvmmsg, and batches per wakeup: a flood is cut into
 * turns, so the control loop's other events get theirs. */
#define BATCH 32
#define BATCHES_PER_TURN 8
/* Room for one byte more than a probe may have: a longer one is seen
 * (MSG_TRUNC) and refused rather than read short. */
#define DGRAM_CAP (READY_UDP_MAX + 1)

/* One batch's datagrams and echoes (75 KiB: off the stack). */
struct ready_udp_bufs {
	uint8_t in[BATCH][DGRAM_CAP];
	uint8_t out[BATCH][READY_UDP_MAX];
	struct sockaddr_storage from[BATCH];
	struct mmsghdr rx[BATCH], tx[BATCH];
	struct iovec riov[BATCH], tiov[BATCH];
};

static const char *const probe_names[RP_COUNT] = {
	[RP_ECHOED] = "echoed",
	[RP_MALFORMED] = "malformed",
	[RP_UNKNOWN_TEST] = "unknown_test",
	[RP_BAD_MAC] = "bad_mac",
	[RP_DUPLICATE] = "duplicate",
	[RP_OVER_COUNT] = "over_count",
};

const char *
ready_probe_name(enum ready_probe p)
{
	return (unsigned)p < RP_COUNT ? probe_names[p] : "?";
}

/* The truncated HMAC-SHA256 of a datagram's header (bytes 0 to 47). */
static void
header_mac(const uint8_t key[READY_UDP_KEY_LEN], const uint8_t *d,
    uint8_t mac[READY_UDP_MAC_LEN])
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;

	if (HMAC(EVP_sha256(), key, READY_UDP_KEY_LEN, d, READY_UDP_O_MAC, md,
	    &mdlen) == NULL || mdlen < READY_UDP_MAC_LEN)
		memset(md, 0, sizeof(md));	/* matches no probe's MAC */
	memcpy(mac, md, READY_UDP_MAC_LEN);
}

static bool
well_formed(const uint8_t *d, size_t len)
{
	uint16_t said;

	if (len < READY_UDP_MIN || len > READY_UDP_MAX)
		return false;
	memcpy(&said, d + READY_UDP_O_LEN, sizeof(said));
	return memcmp(d + READY_UDP_O_MAGIC, READY_UDP_MAGIC, 4) == 0 &&
	    d[READY_UDP_O_VERSION] == READY_UDP_VERSION &&
	    d[READY_UDP_O_TYPE] == READY_UDP_PROBE && ntohs(said) == len;
}

/* The echo of probe in (len bytes) into out, with the test t's key; with
 * rd->mu held. */
static void
make_echo(const struct ready_test *t, const uint8_t *in, size_t len,
    uint32_t count, uint8_t *out)
{
	uint32_t c = htonl(count);
	uint64_t now = htobe64((uint64_t)mono_us());

	memset(out, 0, len);
	memcpy(out, in, READY_UDP_O_MAC);
	out[READY_UDP_O_TYPE] = READY_UDP_ECHO;
	memcpy(out + READY_UDP_O_COUNT, &c, sizeof(c));
	memcpy(out + READY_UDP_O_CLOUD, &now, sizeof(now));
	header_mac(t->s.key, out, out + READY_UDP_O_MAC);
}

/* One datagram: RP_ECHOED with out filled, or why it gets nothing. */
static enum ready_probe
take(struct ready *rd, const uint8_t *in, size_t len, int64_t now,
    uint8_t *out)
{
	uint8_t mac[READY_UDP_MAC_LEN];
	struct ready_test *t;
	enum ready_probe res;
	uint32_t seq;

	if (!well_formed(in, len))
		return RP_MALFORMED;
	memcpy(&seq, in + READY_UDP_O_SEQ, sizeof(seq));
	seq = ntohl(seq);
	pthread_mutex_lock(&rd->mu);
	t = ready_find_bin(rd, in + READY_UDP_O_TEST, now);
	if (t == NULL) {
		res = RP_UNKNOWN_TEST;
		goto out;
	}
	/* The MAC first: who holds no key learns nothing of the seqs. */
	header_mac(t->s.key, in, mac);
	if (CRYPTO_memcmp(mac, in + READY_UDP_O_MAC, sizeof(mac)) != 0) {
		res = RP_BAD_MAC;
		goto out;
	}
	if (seq >= t->s.packets) {
		res = RP_OVER_COUNT;
		goto out;
	}
	if (t->seen[seq / 8] & (1u << (seq % 8))) {
		res = RP_DUPLICATE;
		goto out;
	}
	t->seen[seq / 8] |= (uint8_t)(1u << (seq % 8));
	make_echo(t, in, len, ++t->taken, out);
	res = RP_ECHOED;
out:
	pthread_mutex_unlock(&rd->mu);
	OPENSSL_cleanse(mac, sizeof(mac));
	return res;
}

/* One recvmmsg batch and its echoes; the number of datagrams read. */
static int
batch(struct ready *rd)
{
	struct ready_udp_bufs *b = rd->udp_bufs;
	struct mmsghdr *rx = b->rx, *tx = b->tx;
	int64_t now = ready_now();
	enum ready_probe res;
	int n, i, k = 0;

	memset(rx, 0, sizeof(b->rx));
	for (i = 0; i < BATCH; i++) {
		b->riov[i] = (struct iovec){ b->in[i], DGRAM_CAP };
		rx[i].msg_hdr.msg_iov = &b->riov[i];
		rx[i].msg_hdr.msg_iovlen = 1;
		rx[i].msg_hdr.msg_name = &b->from[i];
		rx[i].msg_hdr.msg_namelen = sizeof(b->from[i]);
	}
	n = recvmmsg(rd->fd, rx, BATCH, MSG_DONTWAIT, NULL);
	if (n <= 0)
		return 0;	/* EAGAIN; an ICMP error (ECONNREFUSED) too */
	memset(tx, 0, sizeof(b->tx));
	for (i = 0; i < n; i++) {
		size_t len = rx[i].msg_len;

		res = (rx[i].msg_hdr.msg_flags & MSG_TRUNC) ? RP_MALFORMED :
		    take(rd, b->in[i], len, now, b->out[k]);
		STAT_ADD(rd->probes[res], 1);
		if (res != RP_ECHOED)
			continue;
		b->tiov[k] = (struct iovec){ b->out[k], len };
		tx[k].msg_hdr.msg_iov = &b->tiov[k];
		tx[k].msg_hdr.msg_iovlen = 1;
		tx[k].msg_hdr.msg_name = &b->from[i];
		tx[k].msg_hdr.msg_namelen = rx[i].msg_hdr.msg_namelen;
		k++;
	}
	/* A full socket buffer drops echoes, as the network may: the edge
	 * counts them lost. */
	for (i = 0; i < k; ) {
		int sent = sendmmsg(rd->fd, tx + i, (unsigned)(k - i),
		    MSG_DONTWAIT);

		if (sent <= 0)
			break;
		i += sent;
	}
	return n;
}

static void
on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct ready *rd = arg;
	int i;

	(void)fd;
	(void)what;
	for (i = 0; i < BATCHES_PER_TURN; i++)
		if (batch(rd) < BATCH)
			break;
}

int
ready_udp_listen(struct ready *rd, const struct hostport *hp, char *bound,
    size_t cap, struct err *e)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;
	int fd;

	if (net_resolve(hp, &ss, &len, e) != 0)
		return -EINVAL;
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len) != 0) {
		int rc = -errno;

		if (fd >= 0)
			close(fd);
		return err_set(e, rc, "cannot bind readiness_udp %s:%u: %s",
		    hp->host, hp->port, strerror(-rc));
	}
	rd->fd = fd;
	rd->udp_bufs = calloc(1, sizeof(*rd->udp_bufs));
	rd->udp_ev = event_new(rd->base, fd, EV_READ | EV_PERSIST,
	    on_readable, rd);
	if (rd->udp_bufs == NULL || rd->udp_ev == NULL ||
	    event_add(rd->udp_ev, NULL) != 0) {
		ready_udp_close(rd);
		return err_set(e, -ENOMEM, "out of memory");
	}
	len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
		rd->udp_port = ntohs(ss.ss_family == AF_INET6 ? s6->sin6_port :
		    ((struct sockaddr_in *)&ss)->sin_port);
	net_local_name(fd, bound, cap);
	return 0;
}

void
ready_udp_close(struct ready *rd)
{
	if (rd->udp_ev != NULL)
		event_free(rd->udp_ev);
	rd->udp_ev = NULL;
	if (rd->fd >= 0)
		close(rd->fd);
	rd->fd = -1;
	free(rd->udp_bufs);
	rd->udp_bufs = NULL;
	rd->udp_port = 0;
}
