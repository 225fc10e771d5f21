# Certificates for the TLS tests, made with the openssl command (EC P-256 keys, so
# the whole set takes well under a second). Sourced; tls_certs DIR writes into DIR:
#   ca.pem ca.key            the CA the targets trust (tls_ca)
#   good.pem good.key        localhost and 127.0.0.1, valid from a day ago for a year
#   expired.pem expired.key  the same names, expired (valid 2025-01-01 to 2025-06-01)
#   wrong.pem wrong.key      valid, signed by the CA, for wrong.example only
#   unknown.pem unknown.key  localhost and 127.0.0.1, signed by a CA no one trusts
#   clientca.pem clientca.key  the CA servers ask client certificates of
#   client.pem client.key    a client certificate signed by clientca
# Each file is checked after it is written; tls_certs returns 1 (and leaves
# openssl's words in DIR/openssl.log) if one is missing.

# tls_key DIR NAME: a P-256 private key, readable by its owner only.
tls_key() {
	(umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
		-out "$1/$2.key") 2>>"$1/openssl.log"
}

# tls_ca DIR NAME: a self-signed CA certificate, ten years.
tls_ca() {
	tls_key "$1" "$2" &&
		openssl req -x509 -new -key "$1/$2.key" -subj "/CN=mconn test $2" -days 3650 \
			-out "$1/$2.pem" 2>>"$1/openssl.log"
}

# tls_sign DIR NAME CA SAN START END: NAME.key and NAME.pem for subjectAltName SAN,
# signed by CA, valid from START to END (YYYYMMDDHHMMSSZ). 'openssl ca' takes both
# dates on 3.0, where 'openssl x509 -req' takes only -days.
tls_sign() {
	d=$1/ca.d
	mkdir -p "$d"
	[ -f "$d/index.txt" ] || : >"$d/index.txt"
	cat >"$d/ca.cnf" <<CNF
[ca]
default_ca = this
[this]
database = $d/index.txt
new_certs_dir = $d
serial = $d/serial
rand_serial = yes
default_md = sha256
policy = any
copy_extensions = copy
unique_subject = no
[any]
commonName = supplied
CNF
	cn=${4%%,*}
	tls_key "$1" "$2" &&
		openssl req -new -key "$1/$2.key" -subj "/CN=${cn#*:}" -addext "subjectAltName=$4" \
			-out "$d/$2.csr" 2>>"$1/openssl.log" &&
		openssl ca -batch -notext -config "$d/ca.cnf" -cert "$1/$3.pem" -keyfile "$1/$3.key" \
			-startdate "$5" -enddate "$6" -in "$d/$2.csr" -out "$1/$2.pem" \
			>>"$1/openssl.log" 2>&1
}

# tls_date DAYS: the date DAYS days from now (negative: ago) in openssl ca's form.
tls_date() {
	date -u -d "@$(($(date +%s) + $1 * 86400))" +%Y%m%d%H%M%SZ
}

tls_certs() {
	: >"$1/openssl.log"
	from=$(tls_date -1)
	to=$(tls_date 365)
	here="DNS:localhost,IP:127.0.0.1"
	tls_ca "$1" ca && tls_ca "$1" otherca && tls_ca "$1" clientca &&
		tls_sign "$1" good ca "$here" "$from" "$to" &&
		tls_sign "$1" expired ca "$here" 20250101000000Z 20250601000000Z &&
		tls_sign "$1" wrong ca "DNS:wrong.example" "$from" "$to" &&
		tls_sign "$1" unknown otherca "$here" "$from" "$to" &&
		tls_sign "$1" client clientca "DNS:mconn-client" "$from" "$to" || return 1
	for f in ca good expired wrong unknown clientca client; do
		[ -s "$1/$f.pem" ] && [ -s "$1/$f.key" ] || return 1
	done
}
