#!/usr/bin/env bash
# Make sure a Dovecot instance for Portico's mail tests runs on loopback: IMAP and LMTP on their
# own ports, with its own configuration, state and mail under one directory, so a system Dovecot
# (if any) is left alone. Idempotent: safe to run repeatedly. Installs Debian's dovecot-imapd and
# dovecot-lmtpd with apt when they are missing and we are root.
#
#   bash scripts/mailserver.sh            start (or confirm) the instance
#   bash scripts/mailserver.sh stop       stop it
#
# Every user name logs in with the password "portico" (a static passdb): a test "creates" a
# mailbox by using a fresh user name. Never expose this instance beyond 127.0.0.1.
#
# Env: PORTICO_DOVECOT_DIR (default ${TMPDIR:-/tmp}/portico-dovecot),
#      PORTICO_TEST_IMAP_PORT (10143), PORTICO_TEST_LMTP_PORT (10024).
# The tests read PORTICO_TEST_IMAP_ADDR / PORTICO_TEST_LMTP_ADDR (default 127.0.0.1 and the ports above).
set -euo pipefail

DIR="${PORTICO_DOVECOT_DIR:-${TMPDIR:-/tmp}/portico-dovecot}"
IMAP_PORT="${PORTICO_TEST_IMAP_PORT:-10143}"
LMTP_PORT="${PORTICO_TEST_LMTP_PORT:-10024}"

log() { echo "mailserver: $*"; }
die() { echo "mailserver: ERROR: $*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }
is_root() { [ "$(id -u)" -eq 0 ]; }

imap_ready() {
	# The greeting of a live IMAP server starts with "* OK".
	exec 3<>"/dev/tcp/127.0.0.1/$IMAP_PORT" || return 1
	local line
	IFS= read -r -t 2 line <&3 || { exec 3<&-; return 1; }
	exec 3<&-
	[[ "$line" == "* OK"* ]]
}

if [ "${1:-}" = "stop" ]; then
	if [ -f "$DIR/run/master.pid" ]; then
		doveadm -c "$DIR/dovecot.conf" stop 2>/dev/null || kill "$(cat "$DIR/run/master.pid")" 2>/dev/null || true
		log "stopped"
	fi
	exit 0
fi

if ! have dovecot || [ ! -x /usr/lib/dovecot/lmtp ] || [ ! -x /usr/lib/dovecot/imap ]; then
	if is_root && have apt-get; then
		log "installing dovecot-imapd dovecot-lmtpd"
		DEBIAN_FRONTEND=noninteractive apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dovecot-imapd dovecot-lmtpd >/dev/null
		# The package may start a system instance on port 143; ours is separate and never touches it.
	else
		die "Dovecot is not installed (Debian: sudo apt-get install dovecot-imapd dovecot-lmtpd)"
	fi
fi

if imap_ready 2>/dev/null; then
	log "Dovecot is ready on 127.0.0.1:$IMAP_PORT (IMAP), 127.0.0.1:$LMTP_PORT (LMTP)"
	exit 0
fi

mkdir -p "$DIR/run" "$DIR/mail" "$DIR/state"
user="$(id -un)"
group="$(id -gn)"
uid="$(id -u)"
gid="$(id -g)"
if is_root; then
	# Mail is never stored as root: the unprivileged "nobody" owns the mail directory.
	user=nobody
	uid="$(id -u nobody)"
	gid="$(id -g nobody)"
	group="$(id -gn nobody)"
	chown -R "$uid:$gid" "$DIR/mail"
fi
login_user="$(id -un)"
if is_root; then
	login_user=dovenull
	id dovenull >/dev/null 2>&1 || login_user=nobody
fi
internal_user="$(id -un)"
if is_root; then
	internal_user=dovecot
	id dovecot >/dev/null 2>&1 || internal_user=nobody
fi

cat >"$DIR/dovecot.conf" <<EOF
# Written by scripts/mailserver.sh for Portico's tests: loopback only, static test passwords.
base_dir = $DIR/run
state_dir = $DIR/state
instance_name = portico-test
listen = 127.0.0.1
protocols = imap lmtp
log_path = $DIR/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = $login_user
default_internal_user = $internal_user
first_valid_uid = $uid
last_valid_uid = $uid
first_valid_gid = $gid
mail_uid = $uid
mail_gid = $gid
mail_location = maildir:$DIR/mail/%n
mail_privileged_group =
lda_mailbox_autocreate = yes
lmtp_save_to_detail_mailbox = no
recipient_delimiter = +
passdb {
  driver = static
  args = password=portico
}
userdb {
  driver = static
  args = uid=$uid gid=$gid home=$DIR/mail/%n
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $IMAP_PORT
  }
  inet_listener imaps {
    port = 0
  }
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = $LMTP_PORT
  }
  unix_listener lmtp {
    mode = 0600
  }
}
service pop3-login {
  inet_listener pop3 {
    port = 0
  }
}
service submission-login {
  inet_listener submission {
    port = 0
  }
}
namespace inbox {
  inbox = yes
  separator = /
  mailbox Sent {
    auto = create
    special_use = \Sent
  }
  mailbox Processed {
    auto = create
  }
}
EOF

log "starting Dovecot ($DIR/dovecot.conf)"
dovecot -c "$DIR/dovecot.conf" || die "dovecot did not start; see $DIR/dovecot.log"
for _ in $(seq 1 60); do
	if imap_ready 2>/dev/null; then
		log "Dovecot is ready on 127.0.0.1:$IMAP_PORT (IMAP), 127.0.0.1:$LMTP_PORT (LMTP)"
		exit 0
	fi
	sleep 0.5
done
die "Dovecot did not answer on 127.0.0.1:$IMAP_PORT within 30 s; see $DIR/dovecot.log"
