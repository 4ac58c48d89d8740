/*
 * proxyproto.c - the PROXY protocol v2 header the tunnel server can send
 * to its backend before the client's bytes, so the backend learns the
 * client's address and identity (HAProxy's spec, proxy-protocol.txt §2.2).
 *
 * Layout: 12-byte signature, version/command 0x21 (v2, PROXY), family
 * (TCP over IPv4 0x11 or IPv6 0x21), length, addresses and ports, then
 * TLVs: PP2_TYPE_SSL (0x20) carrying the client flags (SSL, certificate
 * presented on this connection), verify = 0 (the certificate verified),
 * and sub-TLVs VERSION, CN, CIPHER, SIG_ALG, KEY_ALG; PP2_TYPE_AUTHORITY
 * with the SNI when the client sent one.  Every write is bounds-checked
 * against the caller's buffer.
 */
#include "tunnel.h"

#include <netinet/in.h>
#include <openssl/x509.h>
#include <string.h>

#define PP2_TYPE_AUTHORITY 0x02
#define PP2_TYPE_SSL 0x20
#define PP2_SUBTYPE_SSL_VERSION 0x21
#define PP2_SUBTYPE_SSL_CN 0x22
#define PP2_SUBTYPE_SSL_CIPHER 0x23
#define PP2_SUBTYPE_SSL_SIG_ALG 0x24
#define PP2_SUBTYPE_SSL_KEY_ALG 0x25
#define PP2_CLIENT_SSL 0x01
#define PP2_CLIENT_CERT_CONN 0x02
#define PP2_CLIENT_CERT_SESS 0x04

struct out {
	unsigned char *p;
	size_t size, len;
	int overflow;
};

static void put(struct out *o, const void *data, size_t n)
{
	if (o->overflow || n > o->size - o->len) {
		o->overflow = 1;
		return;
	}
	memcpy(o->p + o->len, data, n);
	o->len += n;
}

static void put_u8(struct out *o, unsigned v)
{
	unsigned char b = (unsigned char)v;
	put(o, &b, 1);
}

static void put_u16(struct out *o, size_t v)
{
	unsigned char b[2] = { (unsigned char)(v >> 8), (unsigned char)v };
	put(o, b, 2);
}

static void put_tlv(struct out *o, unsigned type, const void *v, size_t n)
{
	if (n > 0xffff) {
		o->overflow = 1;
		return;
	}
	put_u8(o, type);
	put_u16(o, n);
	put(o, v, n);
}

static void put_tlv_str(struct out *o, unsigned type, const char *s)
{
	if (s != NULL && *s != '\0')
		put_tlv(o, type, s, strlen(s));
}

/* Patches a 16-bit length at off with the bytes written since off + 2. */
static void patch_len(struct out *o, size_t off)
{
	size_t n = o->len - off - 2;
	if (o->overflow || n > 0xffff) {
		o->overflow = 1;
		return;
	}
	o->p[off] = (unsigned char)(n >> 8);
	o->p[off + 1] = (unsigned char)n;
}

int tunnel_proxy_v2(unsigned char *buf, size_t size, const struct sockaddr *src,
		    const struct sockaddr *dst, SSL *ssl, X509 *peer)
{
	static const unsigned char sig[12] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
					       0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a };
	struct out o = { buf, size, 0, 0 };
	size_t len_off, ssl_off;
	char cn[256] = "";
	const char *sni;
	int nid;

	put(&o, sig, sizeof(sig));
	put_u8(&o, 0x21);
	if (src->sa_family == AF_INET && dst->sa_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)src, *d = (const void *)dst;
		put_u8(&o, 0x11);
		len_off = o.len;
		put_u16(&o, 0);
		put(&o, &s->sin_addr, 4);
		put(&o, &d->sin_addr, 4);
		put(&o, &s->sin_port, 2);
		put(&o, &d->sin_port, 2);
	} else if (src->sa_family == AF_INET6 && dst->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const void *)src, *d = (const void *)dst;
		put_u8(&o, 0x21);
		len_off = o.len;
		put_u16(&o, 0);
		put(&o, &s->sin6_addr, 16);
		put(&o, &d->sin6_addr, 16);
		put(&o, &s->sin6_port, 2);
		put(&o, &d->sin6_port, 2);
	} else {
		put_u8(&o, 0x00); /* UNSPEC: addresses unknown */
		len_off = o.len;
		put_u16(&o, 0);
	}

	sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	put_tlv_str(&o, PP2_TYPE_AUTHORITY, sni);

	put_u8(&o, PP2_TYPE_SSL);
	ssl_off = o.len;
	put_u16(&o, 0);
	put_u8(&o, PP2_CLIENT_SSL | (peer ? PP2_CLIENT_CERT_CONN | PP2_CLIENT_CERT_SESS : 0));
	{
		/* verify: 0 means the client presented a certificate that verified. */
		unsigned char v[4] = { 0, 0, 0, peer ? 0 : 1 };
		put(&o, v, 4);
	}
	put_tlv_str(&o, PP2_SUBTYPE_SSL_VERSION, SSL_get_version(ssl));
	if (peer != NULL &&
	    X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn,
				      sizeof(cn)) > 0)
		put_tlv_str(&o, PP2_SUBTYPE_SSL_CN, cn);
	put_tlv_str(&o, PP2_SUBTYPE_SSL_CIPHER, SSL_get_cipher_name(ssl));
	if (peer != NULL) {
		nid = X509_get_signature_nid(peer);
		if (nid != NID_undef)
			put_tlv_str(&o, PP2_SUBTYPE_SSL_SIG_ALG, OBJ_nid2sn(nid));
		{
			EVP_PKEY *pk = X509_get0_pubkey(peer);
			if (pk != NULL)
				put_tlv_str(&o, PP2_SUBTYPE_SSL_KEY_ALG,
					    EVP_PKEY_get0_type_name(pk));
		}
	}
	patch_len(&o, ssl_off);
	patch_len(&o, len_off);
	return o.overflow ? -1 : (int)o.len;
}
